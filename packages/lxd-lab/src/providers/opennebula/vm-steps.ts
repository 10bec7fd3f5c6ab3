import {
  instantiateOneVm,
  isVmShuttingDown,
  type OneVm,
  type OneVmNode,
  type OpenNebulaClient,
  OpenNebulaError,
  oneNodeState,
  StateError,
  terminateOneVm,
  waitForVmDone,
  waitOneVmRunning,
} from "@labgate/core";
import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { oneContext, userDataFor } from "./one-context.js";
import type { OneInstancePlan } from "./one-lab-options.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/**
 * The lab VM as a core OpenNebula node (core's opennebula-node.ts instantiates it, as it does deploy's): its
 * fixed address on the lab's vnet and its full CONTEXT with the payload. The template id and the payload are
 * known at apply only.
 */
export function instanceNode(
  rt: OneLabRuntime,
  inst: OneInstancePlan,
  ip: string,
  templateId: number,
  userData: string,
): OneVmNode {
  return {
    templateId,
    name: inst.vmName,
    nic: { NETWORK: rt.options.vnetName, IP: ip },
    context: oneContext(rt, userData),
  };
}

function templateOf(rt: OneLabRuntime, inst: OneInstancePlan): string {
  return inst.role === "app" ? rt.options.appTemplate : rt.options.lbTemplate;
}

/** The instantiate call as shown: the same template, name and address apply gives instanceNode. */
function instantiateCall(rt: OneLabRuntime, inst: OneInstancePlan, ip: string | undefined): StepCall {
  return {
    display: `one.template.instantiate(ID(${templateOf(rt, inst)}), "${inst.vmName}", false, <NIC IP=${ip ?? "ADDR"}, CONTEXT START_SCRIPT_BASE64=payload>, false)`,
    kind: "xmlrpc",
  };
}

const WAIT_RUNNING: StepCall = { display: "one.vm.info(ID)  # until ACTIVE/RUNNING", kind: "xmlrpc" };
/** What undo sends for each VM: the recorded ids once known. */
function terminateCall(vmId = "ID"): StepCall {
  return { display: `one.vm.action("terminate-hard", ${vmId})  # until DONE`, kind: "xmlrpc" };
}

function ipOf(rt: OneLabRuntime, ctx: StepContext, inst: OneInstancePlan): string {
  const ip = rt.addresses(ctx).get(inst.name)?.ip;
  if (!ip)
    throw new StateError("ONE_ADDRESS_MISSING", `No address is recorded for ${inst.name}.`, {
      hint: "Run `labgate lab up` from the one-addresses step (`--from one-addresses`).",
    });
  return ip;
}

/**
 * Our VM by name. The pool leaves out DONE VMs; one still shutting down (SHUTDOWN, EPILOG, CLEANUP_DELETE …,
 * after an earlier `lab down`) is not ours to adopt: it is about to disappear with its address.
 */
async function findOwnVm(client: OpenNebulaClient, inst: OneInstancePlan): Promise<OneVm | undefined> {
  return (await client.vmPool()).find((v) => v.name === inst.vmName && !isVmShuttingDown(v));
}

/** What the VM step's check saw: our VM, or the same-named VMs on their way to DONE (they hold the address). */
export interface InstanceFacts {
  vm?: { id: number; label: string };
  dying: { id: number; label: string }[];
}

export function instanceStep(rt: OneLabRuntime, inst: OneInstancePlan): LabStep<InstanceFacts> {
  const template = templateOf(rt, inst);
  const id = `one-vm-${inst.name}`;
  const describe = (ip: string | undefined, vmIds: string[] = []): StepDescription => ({
    id,
    title: `Start ${inst.role === "app" ? "app" : "load balancer"} VM ${inst.vmName} and wait for RUNNING`,
    why:
      inst.role === "app"
        ? `Instantiates ${template} as ${inst.vmName} with its static address. Its payload (START_SCRIPT_BASE64, which every OpenNebula context version runs) installs the sentiment app, which answers on port ${inst.port} with X-Served-By: ${inst.name}. The VM ID is saved before waiting, so an interrupted run resumes on the same VM.`
        : `Instantiates ${template} as ${inst.vmName}. Its payload (START_SCRIPT_BASE64) installs HAProxy with a config rendered from the lab spec: port ${inst.port}, balance roundrobin over the apps' addresses, health checks on /health.`,
    calls: [instantiateCall(rt, inst, ip), WAIT_RUNNING],
    undoCalls: vmIds.length ? vmIds.map(terminateCall) : [terminateCall()],
    diagnostics: [
      `onevm show ${inst.vmName}`,
      "tail -n 50 /var/log/one/VMID.log  # on the front-end",
      "onehost show HOST",
    ],
  });
  return {
    description: describe(undefined),
    current: (ctx) =>
      describe(
        rt.addresses(ctx).get(inst.name)?.ip,
        ctx
          .resources("one-vm")
          .filter((r) => r.stepId === id)
          .map((r) => r.id),
      ),
    actions: {
      async check(ctx) {
        const named = (await rt.client(ctx).vmPool()).filter((v) => v.name === inst.vmName);
        const dying = named.filter(isVmShuttingDown).map((v) => ({ id: v.id, label: v.label }));
        const vm = named.find((v) => !isVmShuttingDown(v));
        if (!vm) return { done: false, detail: `no VM named ${inst.vmName}`, facts: { dying } };
        return {
          done: oneNodeState(vm) === "running",
          detail: `${inst.vmName} (ID ${vm.id}) is ${vm.label}${vm.nics[0] ? ` at ${vm.nics[0].ip}` : ""}`,
          facts: { vm: { id: vm.id, label: vm.label }, dying },
        };
      },
      async apply(ctx, found) {
        const client = rt.client(ctx);
        const ip = ipOf(rt, ctx, inst);
        let vmId = found.facts.vm?.id;
        if (vmId === undefined) {
          for (const dying of found.facts.dying) {
            ctx.log(
              `  ${inst.vmName}: VM ${dying.id} of the same name is ${dying.label}; waiting until it is DONE`,
            );
            await waitForVmDone(
              client,
              dying.id,
              rt.waitOptions(ctx, `${inst.vmName} (VM ${dying.id}, terminating)`),
            );
          }
          const tpl = await client.findTemplate(template);
          if (!tpl)
            throw new OpenNebulaError("ONE_TEMPLATE_MISSING", `Template ${template} is missing.`, {
              hint: "Run `labgate lab up` again: its template step creates it before the VMs.",
            });
          const userData = await userDataFor(rt, ctx, inst);
          vmId = await instantiateOneVm(client, instanceNode(rt, inst, ip, tpl.id, userData));
        }
        // Recorded before waiting: Ctrl-C or a crash now still leaves the ID in the state file.
        await ctx.record({
          kind: "one-vm",
          id: String(vmId),
          stepId: id,
          data: { name: inst.vmName, role: inst.role, ip },
        });
        const vm = await waitOneVmRunning(client, vmId, rt.waitOptions(ctx, inst.vmName));
        ctx.log(
          `  ${inst.vmName}: VM ${vm.id} ${vm.label} at ${vm.nics[0]?.ip ?? "?"}${vm.hostname ? ` on ${vm.hostname}` : ""}`,
        );
      },
      async verify(ctx) {
        let vm = await findOwnVm(rt.client(ctx), inst);
        const ip = ipOf(rt, ctx, inst);
        // UNKNOWN is lost monitoring, not a failure: oned's next successful poll puts the VM back in RUNNING.
        if (vm?.label === "ACTIVE/UNKNOWN") {
          ctx.log(`  ${inst.vmName}: monitoring lost (ACTIVE/UNKNOWN); waiting for the next poll`);
          vm = await waitOneVmRunning(rt.client(ctx), vm.id, rt.waitOptions(ctx, inst.vmName));
        }
        if (!vm || oneNodeState(vm) !== "running")
          throw new OpenNebulaError(
            "ONE_VM_NOT_RUNNING",
            `${inst.vmName} is ${vm ? vm.label : "missing"}, not ACTIVE/RUNNING.`,
            {
              hint: vm
                ? `See why with \`onevm show ${vm.id}\` (a FAILURE state names the driver error), then \`labgate lab up --replace\` its step.`
                : "Run `labgate lab up` again to create it.",
            },
          );
        if (!vm.nics.some((n) => n.ip === ip)) {
          throw new OpenNebulaError(
            "ONE_VM_ADDRESS_MISMATCH",
            `${inst.vmName} (ID ${vm.id}) has ${vm.nics.map((n) => n.ip).join(", ") || "no address"}, expected ${ip}.`,
            {
              hint: `Terminate it (\`onevm terminate --hard ${vm.id}\`) and run \`labgate lab up\` again.`,
            },
          );
        }
      },
      async undo(ctx) {
        const client = rt.client(ctx);
        const recorded = ctx.resources("one-vm").filter((r) => r.stepId === id);
        const found = await findOwnVm(client, inst);
        const ids = new Set(recorded.map((r) => Number(r.id)));
        if (found) ids.add(found.id);
        for (const vmId of ids) {
          // terminate-hard is asynchronous and refused mid-transition (PROLOG, BOOT …): core retries, deletes a
          // stuck VM with one.vm.recover(id, 3), and waits for DONE, so the image and vnet can be deleted next.
          const outcome = await terminateOneVm(client, vmId, {
            ...rt.waitOptions(ctx, `${inst.vmName} (VM ${vmId})`),
            retryMs: Math.min(rt.options.waitTimeoutMs, 120_000),
            onStep: (m) => ctx.log(`  ${m}`),
          });
          ctx.log(
            `  ${inst.vmName}: VM ${vmId} ${outcome === "gone" ? "was already gone" : `is DONE (${outcome})`}`,
          );
          // The record is dropped only now that the VM is DONE: an interrupted `down` finds it again.
          const r = recorded.find((x) => Number(x.id) === vmId);
          if (r) await ctx.forget("one-vm", r.id);
        }
      },
    },
  };
}
