import {
  type OneVm,
  type OpenNebulaClient,
  OpenNebulaError,
  toTemplateXml,
  waitForVmRunning,
} from "@labgate/core";
import type { Step, StepContext } from "../../engine/step.js";
import { oneContext, userDataFor } from "./one-context.js";
import type { OneInstancePlan } from "./one-lab-options.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/** The instantiation extra template: the VM's fixed address and its full CONTEXT with USER_DATA. */
export function instanceExtraTemplate(rt: OneLabRuntime, ip: string, userData: string): string {
  return toTemplateXml({ NIC: { NETWORK: rt.options.vnetName, IP: ip }, CONTEXT: oneContext(rt, userData) });
}

function ipOf(rt: OneLabRuntime, ctx: StepContext, inst: OneInstancePlan): string {
  const ip = rt.addresses(ctx).get(inst.name)?.ip;
  if (!ip) throw new Error(`no address recorded for ${inst.name}; run the one-addresses step first`);
  return ip;
}

/** Our VM by name, ignoring terminated ones (the pool call already leaves out DONE). */
async function findOwnVm(client: OpenNebulaClient, inst: OneInstancePlan): Promise<OneVm | undefined> {
  return client.findVm(inst.vmName);
}

export function instanceStep(rt: OneLabRuntime, inst: OneInstancePlan): Step {
  const template = inst.role === "app" ? rt.options.appTemplate : rt.options.lbTemplate;
  const id = `one-vm-${inst.name}`;
  return {
    id,
    title: `Start ${inst.role === "app" ? "app" : "load balancer"} VM ${inst.vmName} and wait for RUNNING`,
    why:
      inst.role === "app"
        ? `Instantiates ${template} as ${inst.vmName} with its static address. Its cloud-config (write_files + runcmd, the only parts OpenNebula's context agent runs) installs the sentiment app, which answers on port ${inst.port} with X-Served-By: ${inst.name}. The VM ID is saved before waiting, so an interrupted run resumes on the same VM.`
        : `Instantiates ${template} as ${inst.vmName}. Its cloud-config installs HAProxy with a config rendered from the lab spec: port ${inst.port}, balance roundrobin over the apps' addresses, health checks on /health.`,
    commands: [
      `one.template.instantiate(ID(${template}), "${inst.vmName}", false, <NIC IP=ADDR, CONTEXT USER_DATA=base64>, false)`,
      "one.vm.info(ID)  # until ACTIVE/RUNNING",
    ],
    async check(ctx) {
      const vm = await findOwnVm(rt.client(ctx), inst);
      if (!vm) return { done: false, detail: `no VM named ${inst.vmName}` };
      return {
        done: vm.label === "ACTIVE/RUNNING",
        detail: `${inst.vmName} (ID ${vm.id}) is ${vm.label}${vm.nics[0] ? ` at ${vm.nics[0].ip}` : ""}`,
      };
    },
    async apply(ctx) {
      const client = rt.client(ctx);
      const ip = ipOf(rt, ctx, inst);
      let vm = await findOwnVm(client, inst);
      let vmId = vm?.id;
      if (vmId === undefined) {
        const tpl = await client.findTemplate(template);
        if (!tpl) throw new Error(`template ${template} is missing; run its step first`);
        const userData = await userDataFor(rt, ctx, inst);
        vmId = await client.templateInstantiate(tpl.id, inst.vmName, instanceExtraTemplate(rt, ip, userData));
      }
      // Recorded before waiting: Ctrl-C or a crash now still leaves the ID in the state file.
      await ctx.record({
        kind: "one-vm",
        id: String(vmId),
        stepId: id,
        data: { name: inst.vmName, role: inst.role, ip },
      });
      vm = await waitForVmRunning(client, vmId, rt.waitOptions(ctx, inst.vmName));
      ctx.log(
        `  ${inst.vmName}: VM ${vm.id} ${vm.label} at ${vm.nics[0]?.ip ?? "?"}${vm.hostname ? ` on ${vm.hostname}` : ""}`,
      );
    },
    async verify(ctx) {
      const vm = await findOwnVm(rt.client(ctx), inst);
      const ip = ipOf(rt, ctx, inst);
      if (vm?.label !== "ACTIVE/RUNNING") throw new Error(`${inst.vmName} is ${vm ? vm.label : "missing"}`);
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
        await client.vmAction("terminate-hard", vmId).catch((e: unknown) => {
          // Already gone or already DONE: nothing left to remove.
          if (!(e instanceof OpenNebulaError && (e.code === "ONE_NOT_FOUND" || e.code === "ONE_WRONG_STATE")))
            throw e;
        });
      }
      for (const r of recorded) await ctx.forget("one-vm", r.id);
    },
    diagnostics: [
      `onevm show ${inst.vmName}`,
      "tail -n 50 /var/log/one/VMID.log  # on the front-end",
      "onehost show HOST",
    ],
  };
}
