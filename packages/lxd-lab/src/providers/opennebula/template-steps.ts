import {
  OpenNebulaError,
  type TemplateObject,
  templateChild,
  toTemplateXml,
  type XmlNode,
} from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import type { LabStep } from "../../engine/step.js";
import { oneContext, PAYLOAD_DELIVERY, userDataFor } from "./one-context.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/**
 * A lab template. Its CONTEXT carries the role's cloud-config (the LB's with the apps' reserved addresses,
 * the first app's for tpl-app) so the template is complete on its own; every VM is instantiated with its own
 * CONTEXT, because a CONTEXT given at instantiation replaces the template's whole.
 */
export function vmTemplate(
  rt: OneLabRuntime,
  name: string,
  role: "app" | "lb",
  userData: string,
): TemplateObject {
  return { ...templateShape(rt, name, role), CONTEXT: oneContext(rt, userData) };
}

/** The template without its CONTEXT (which carries the payload, known at apply): what the plan shows. */
function templateShape(rt: OneLabRuntime, name: string, role: "app" | "lb") {
  const o = rt.options;
  return {
    NAME: name,
    DESCRIPTION: `labgate lab ${o.lab}: ${role === "app" ? "sentiment app instance (each VM gets its own name and port in CONTEXT at instantiation)" : "HAProxy load balancer"}`,
    LABGATE_LAB: o.lab,
    LABGATE_ROLE: role,
    CPU: "0.5",
    VCPU: "1",
    MEMORY: role === "app" ? "512" : "256",
    DISK: { IMAGE: o.imageName },
    NIC: { NETWORK: o.vnetName },
    // Containers only on container hosts (as the marketplace templates pin them): without it the scheduler may
    // pick a KVM host, where a container root file system does not boot. "lx*" matches lxd (≤ 6.8) and lxc.
    SCHED_REQUIREMENTS: 'HYPERVISOR="lx*"',
  };
}

/** one.template.allocate(template): the call shown and the template apply sends, from the same shape. */
function templateAllocation(rt: OneLabRuntime, name: string, role: "app" | "lb") {
  const t = templateShape(rt, name, role);
  const call: StepCall = {
    display: `one.template.allocate(<TEMPLATE NAME=${t.NAME} DISK=[IMAGE=${t.DISK.IMAGE}] NIC=[NETWORK=${t.NIC.NETWORK}] SCHED_REQUIREMENTS=${t.SCHED_REQUIREMENTS} CONTEXT=[NETWORK=YES, SSH_PUBLIC_KEY=..., START_SCRIPT_BASE64=<payload script>]>)`,
    kind: "xmlrpc",
  };
  return { call, template: (userData: string) => toTemplateXml(vmTemplate(rt, name, role, userData)) };
}

function contextProblem(context: XmlNode): string | undefined {
  if (String(context.NETWORK ?? "") !== "YES") return 'no CONTEXT NETWORK="YES"';
  const script = Buffer.from(String(context.START_SCRIPT_BASE64 ?? ""), "base64").toString("utf8");
  if (!script.startsWith("#!/bin/sh")) return "no labgate payload in CONTEXT START_SCRIPT_BASE64";
  return undefined;
}

export function templateStep(rt: OneLabRuntime, role: "app" | "lb"): LabStep<{ exists: boolean }> {
  const name = role === "app" ? rt.options.appTemplate : rt.options.lbTemplate;
  const id = role === "app" ? "one-template-app" : "one-template-lb";
  const allocation = templateAllocation(rt, name, role);
  return {
    description: {
      id,
      title: `Create VM template ${name}`,
      why: `A VM template says what every ${role === "app" ? "app instance" : "load balancer"} is made of: the image, one NIC on ${rt.options.vnetName}, and the CONTEXT section (NETWORK="YES" so the address is configured inside the container, your SSH key, and the payload as ${PAYLOAD_DELIVERY}). SCHED_REQUIREMENTS HYPERVISOR="lx*" keeps the VMs off KVM hosts.`,
      calls: [allocation.call],
      undoCalls: [{ display: "one.template.delete(ID, false)", kind: "xmlrpc" }],
      diagnostics: [`onetemplate show ${name}`],
    },
    actions: {
      async check(ctx) {
        const t = await rt.client(ctx).findTemplate(name);
        return t
          ? { done: true, detail: `template ${name} exists (ID ${t.id})`, facts: { exists: true } }
          : { done: false, detail: `no template ${name}`, facts: { exists: false } };
      },
      async apply(ctx, found) {
        const client = rt.client(ctx);
        if (found.facts.exists) return;
        const userData = await userDataFor(rt, ctx, role === "app" ? rt.options.apps[0]! : rt.options.lb);
        const tid = await client.templateAllocate(allocation.template(userData));
        ctx.log(`  ${name}: payload delivered as ${PAYLOAD_DELIVERY}`);
        await ctx.record({ kind: "one-template", id: String(tid), stepId: id, data: { name } });
      },
      async verify(ctx) {
        const client = rt.client(ctx);
        const t = await client.findTemplate(name);
        if (!t)
          throw new OpenNebulaError("ONE_TEMPLATE_MISSING", `Template ${name} is missing.`, {
            hint: "Run `labgate lab up` again: this step creates it.",
          });
        const info = await client.templateInfo(t.id);
        const context = templateChild(info.template, "CONTEXT");
        const problem = contextProblem(context);
        if (problem) {
          // An older labgate sent the payload as USER_DATA only, which 6.8 and 6.10.0–6.10.4 guests ignore.
          const oldLabgate =
            String(context.USER_DATA ?? "") !== "" && String(info.template.LABGATE_LAB ?? "") !== "";
          throw new OpenNebulaError(
            "ONE_TEMPLATE_MISMATCH",
            `Template ${name} (ID ${t.id}) has ${problem}.`,
            {
              hint: oldLabgate
                ? `It was made by an older labgate that delivered the payload as USER_DATA, which addon-context-linux (6.8) and one-context before 6.10.0-3 ignore: delete it (\`onetemplate delete ${t.id}\`) and run \`labgate lab up\` again.`
                : `It was not made by labgate: rename it or set providerOptions.${role}Template to another name.`,
            },
          );
        }
      },
      async undo(ctx) {
        const client = rt.client(ctx);
        for (const r of ctx.resources("one-template").filter((r) => r.stepId === id)) {
          await client.templateDelete(Number(r.id), false).catch((e: unknown) => {
            if (!(e instanceof OpenNebulaError && e.code === "ONE_NOT_FOUND")) throw e;
          });
          await ctx.forget("one-template", r.id);
        }
      },
    },
  };
}
