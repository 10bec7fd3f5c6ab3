import { OpenNebulaError, type TemplateObject, templateChild, toTemplateXml } from "@labgate/core";
import type { Step } from "../../engine/step.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/**
 * The base CONTEXT of both templates. OpenNebula's context agent only honours `write_files` and
 * `runcmd` of cloud-config user data, which is exactly what the payload builders emit; the
 * per-VM USER_DATA is given at instantiation (a declared CONTEXT replaces the template's whole).
 */
export function baseContext(rt: OneLabRuntime): TemplateObject {
  return {
    NETWORK: "YES",
    SET_HOSTNAME: "$NAME",
    ...(rt.options.sshPublicKey
      ? { SSH_PUBLIC_KEY: rt.options.sshPublicKey }
      : { SSH_PUBLIC_KEY: "$USER[SSH_PUBLIC_KEY]" }),
  };
}

export function vmTemplate(rt: OneLabRuntime, name: string, role: "app" | "lb"): TemplateObject {
  const o = rt.options;
  return {
    NAME: name,
    DESCRIPTION: `labgate lab ${o.lab}: ${role === "app" ? "sentiment app instance" : "HAProxy load balancer"}`,
    LABGATE_LAB: o.lab,
    LABGATE_ROLE: role,
    CPU: "0.5",
    VCPU: "1",
    MEMORY: role === "app" ? "512" : "256",
    DISK: { IMAGE: o.imageName },
    NIC: { NETWORK: o.vnetName },
    CONTEXT: baseContext(rt),
  };
}

export function templateStep(rt: OneLabRuntime, role: "app" | "lb"): Step {
  const name = role === "app" ? rt.options.appTemplate : rt.options.lbTemplate;
  const id = role === "app" ? "one-template-app" : "one-template-lb";
  return {
    id,
    title: `Create VM template ${name}`,
    why: `A VM template says what every ${role === "app" ? "app instance" : "load balancer"} is made of: the image, one NIC on ${rt.options.vnetName}, and the CONTEXT section (NETWORK="YES" so the address is configured inside the container, your SSH key, and the cloud-config user data, base64-encoded).`,
    commands: [`one.template.allocate(${toTemplateXml(vmTemplate(rt, name, role)).slice(0, 120)}...)`],
    async check(ctx) {
      const t = await rt.client(ctx).findTemplate(name);
      return t
        ? { done: true, detail: `template ${name} exists (ID ${t.id})` }
        : { done: false, detail: `no template ${name}` };
    },
    async apply(ctx) {
      const client = rt.client(ctx);
      if (await client.findTemplate(name)) return;
      const tid = await client.templateAllocate(toTemplateXml(vmTemplate(rt, name, role)));
      await ctx.record({ kind: "one-template", id: String(tid), stepId: id, data: { name } });
    },
    async verify(ctx) {
      const client = rt.client(ctx);
      const t = await client.findTemplate(name);
      if (!t) throw new Error(`template ${name} is missing`);
      const info = await client.templateInfo(t.id);
      if (String(templateChild(info.template, "CONTEXT").NETWORK ?? "") !== "YES") {
        throw new OpenNebulaError(
          "ONE_TEMPLATE_MISMATCH",
          `Template ${name} (ID ${t.id}) has no CONTEXT NETWORK="YES".`,
          {
            hint: `It was not made by labgate: rename it or set providerOptions.${role}Template to another name.`,
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
    diagnostics: [`onetemplate show ${name}`],
  };
}
