import {
  ExitCode,
  OpenNebulaError,
  parseIpv4,
  StateError,
  toTemplateXml,
  waitForVnetReady,
} from "@labgate/core";
import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep } from "../../engine/step.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";
import { oneIpRecord } from "./one-records.js";

/** Static addresses for every VM, from the core IP pool (the lab network has no DHCP). */
export function addressesStep(rt: OneLabRuntime): LabStep<undefined> {
  const o = rt.options;
  const instances = [...o.apps, o.lb];
  return {
    description: {
      id: "one-addresses",
      title: `Reserve ${instances.length} static addresses in ${o.cidr}`,
      why: "The lab network has no DHCP, so every VM gets a fixed address. labgate's IP pool hands them out and records who owns each one, so two labs (or two people) never get the same address; running this again gives each VM the same address back.",
      calls: instances.map((i) => ({
        display: `labgate ip allocate --network ${o.cidr} --owner ${i.ipOwner}`,
        kind: "command" as const,
      })),
      undoCalls: instances.map((i) => ({
        display: `labgate ip release --owner ${i.ipOwner}`,
        kind: "command" as const,
      })),
    },
    actions: {
      async check(ctx) {
        const have = rt.addresses(ctx);
        const missing = instances.filter((i) => !have.has(i.name));
        return missing.length
          ? {
              done: false,
              detail: `no address yet for ${missing.map((i) => i.name).join(", ")}`,
              facts: undefined,
            }
          : {
              done: true,
              detail: instances.map((i) => `${i.name} ${have.get(i.name)?.ip}`).join(", "),
              facts: undefined,
            };
      },
      async apply(ctx) {
        for (const i of instances) {
          const a = await rt.pool().allocate(o.cidr, i.ipOwner);
          await ctx.record({
            kind: "ip",
            id: a.ip,
            stepId: "one-addresses",
            data: {
              name: i.name,
              ip: a.ip,
              owner: i.ipOwner,
              netmask: a.netmask,
              gateway: a.gateway,
              dns: a.dns,
            },
          });
          ctx.log(`  ${i.name}: ${a.ip}`);
        }
      },
      async verify(ctx) {
        const have = rt.addresses(ctx);
        if (instances.some((i) => !have.has(i.name)))
          throw new StateError(
            "ONE_ADDRESS_MISSING",
            `No address recorded for ${instances
              .filter((i) => !have.has(i.name))
              .map((i) => i.name)
              .join(", ")}.`,
            { hint: "Run `labgate lab up --replace one-addresses` to allocate them again." },
          );
      },
      async undo(ctx) {
        for (const r of ctx.resources("ip")) {
          const { owner } = oneIpRecord(r);
          if (owner !== undefined) await rt.pool().release({ owner });
          await ctx.forget("ip", r.id);
        }
      },
    },
  };
}

/**
 * one.vn.allocate(template, cluster -1) for the addresses the address step recorded: the call shown (the ranges
 * filled in once they are known) and the template apply sends come from here.
 */
function vnetAllocation(
  rt: OneLabRuntime,
  addresses: { ip: string; netmask: string; gateway: string; dns: string[] }[],
) {
  const o = rt.options;
  const first = addresses[0];
  const template = toTemplateXml({
    NAME: o.vnetName,
    VN_MAD: o.vnMad,
    BRIDGE: o.bridge,
    DESCRIPTION: `labgate lab ${o.lab}: static addresses from the labgate IP pool`,
    LABGATE_LAB: o.lab,
    ...(first?.gateway ? { GATEWAY: first.gateway } : {}),
    ...(first?.netmask ? { NETWORK_MASK: first.netmask } : {}),
    ...(first?.dns.length ? { DNS: first.dns.join(" ") } : {}),
    // One single-address range per VM: exactly the addresses the pool gave out, nothing more.
    AR: addresses.map((a) => ({ TYPE: "IP4", IP: a.ip, SIZE: 1 })),
  });
  const ranges = addresses.length
    ? addresses.map((a) => `AR=[TYPE=IP4,IP=${a.ip},SIZE=1]`).join(" ")
    : "AR=[TYPE=IP4,IP=..,SIZE=1]...";
  const call: StepCall = {
    display: `one.vn.allocate(<TEMPLATE NAME=${o.vnetName} VN_MAD=${o.vnMad} BRIDGE=${o.bridge} ${ranges}>, -1)`,
    kind: "xmlrpc",
  };
  return { call, params: [template, -1] as const };
}

/** The virtual network `vnet-lxd` with an address range made of the pool's addresses. */
export function vnetStep(rt: OneLabRuntime): LabStep<{ vnetId?: number }> {
  const o = rt.options;
  const describe = (addresses: Parameters<typeof vnetAllocation>[1]): StepDescription => ({
    id: "one-vnet",
    title: `Create virtual network ${o.vnetName} on bridge ${o.bridge}`,
    why: `OpenNebula hands addresses to VMs from a virtual network's address ranges (AR). ${o.vnetName} is attached to the host bridge ${o.bridge} and contains only the static addresses reserved in the previous step, so OpenNebula can never give a VM an address someone else uses.`,
    calls: [vnetAllocation(rt, addresses).call],
    undoCalls: [{ display: "one.vn.delete(ID)", kind: "xmlrpc" }],
    diagnostics: [`onevnet show ${o.vnetName}`, `ip link show ${o.bridge}  # on the host`],
  });
  return {
    description: describe([]),
    current: (ctx) => describe([...rt.addresses(ctx).values()]),
    actions: {
      async check(ctx) {
        const vnet = await rt.client(ctx).findVnet(o.vnetName);
        if (!vnet) return { done: false, detail: `no virtual network named ${o.vnetName}`, facts: {} };
        return {
          done: vnet.stateName === "READY",
          detail: `${o.vnetName} (ID ${vnet.id}) is ${vnet.stateName}`,
          facts: { vnetId: vnet.id },
        };
      },
      async apply(ctx, found) {
        const client = rt.client(ctx);
        let id = found.facts.vnetId;
        if (id === undefined) {
          const [template, cluster] = vnetAllocation(rt, [...rt.addresses(ctx).values()]).params;
          id = await client.vnAllocate(template, cluster);
          await ctx.record({
            kind: "one-vnet",
            id: String(id),
            stepId: "one-vnet",
            data: { name: o.vnetName },
          });
        }
        await waitForVnetReady(client, id, rt.waitOptions(ctx, o.vnetName));
      },
      async verify(ctx) {
        const client = rt.client(ctx);
        const vnet = await client.findVnet(o.vnetName);
        if (!vnet)
          throw new OpenNebulaError("ONE_VNET_MISSING", `Virtual network ${o.vnetName} is missing.`, {
            hint: "Run `labgate lab up` again: the VNet step creates it.",
          });
        const inRange = (ip: string) =>
          vnet.addressRanges.some((ar) => {
            const n = parseIpv4(ip);
            return n >= parseIpv4(ar.ip) && n < parseIpv4(ar.ip) + ar.size;
          });
        const outside = [...rt.addresses(ctx).values()].filter((a) => !inRange(a.ip));
        if (outside.length) {
          throw new OpenNebulaError(
            "ONE_VNET_MISMATCH",
            `Virtual network ${o.vnetName} (ID ${vnet.id}) exists but does not contain ${outside.map((a) => a.ip).join(", ")}.`,
            {
              exitCode: ExitCode.PRECONDITION,
              hint: `It was not created for this lab's addresses: set network.name to another name, or add the range with \`onevnet addar ${vnet.id}\`.`,
            },
          );
        }
      },
      async undo(ctx) {
        const client = rt.client(ctx);
        for (const r of ctx.resources("one-vnet")) {
          await client.vnDelete(Number(r.id)).catch((e: unknown) => {
            if (!(e instanceof OpenNebulaError && e.code === "ONE_NOT_FOUND")) throw e;
          });
          await ctx.forget("one-vnet", r.id);
        }
      },
    },
  };
}
