import { join } from "node:path";
import { isLabOwner } from "@labgate/core";
import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep, ResourceRecord, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { knownAddress } from "./known-values.js";
import type { LxdLabOptions } from "./lxd-lab-options.js";
import { lxdAddressRecord } from "./lxd-records.js";
import { addressOwner, IP_POOL_CONFIG_FILE, labIpPool } from "./lxd-runtime.js";
import { lxdUndoCalls } from "./undo-calls.js";

/** What check found: the instances that have no address recorded yet. */
export interface AddressFacts {
  missing: string[];
}

/** The pool writes and allocations, with the addresses the lab state already records. */
function addressCalls(o: LxdLabOptions, instances: string[], known: ResourceRecord[]): StepCall[] {
  return [
    {
      kind: "file",
      display: `write <state dir>/${IP_POOL_CONFIG_FILE} (network ${o.subnet.cidr}, pool ${o.addressPool.start}-${o.addressPool.end}, dhcp false)`,
    },
    ...instances.map((name): StepCall => {
      const a = knownAddress(known, name);
      return {
        kind: "file",
        display: `IpPool.allocate("${o.subnet.cidr}", "${addressOwner(o, name)}")${a ? `   # allocated: ${a.ip}/${a.prefix}` : ""}`,
      };
    }),
  ];
}

/**
 * One static address per instance from the core IP pool, configured for the lab's subnet and kept
 * in the lab's state directory. Allocation is idempotent per owner, so a re-run gets the same ones.
 */
export function addressStep(o: LxdLabOptions): LabStep<AddressFacts> {
  const id = "allocate-addresses";
  const instances = [...o.apps, o.lb].map((p) => p.instance);
  const missing = (ctx: StepContext) =>
    instances.filter((name) => !ctx.resources("address").some((r) => r.id === name));
  const description: StepDescription = {
    id,
    title: `Allocate ${instances.length} static addresses from ${o.addressPool.start}–${o.addressPool.end}`,
    why:
      "The lab network has no DHCP, as on-prem lab networks often have none: every container gets a fixed address " +
      `from labgate's IP pool (range ${o.addressPool.start}–${o.addressPool.end} of ${o.subnet.cidr}, gateway ${o.gateway}). ` +
      "The pool's ledger lives in the lab's state directory, so two labs or two runs never hand out the same address.",
    calls: addressCalls(o, instances, []),
    undoCalls: lxdUndoCalls(o, id) ?? [],
    diagnostics: ["cat <state dir>/ip-pool.state.json"],
  };
  return {
    description,
    current: (ctx) => ({ ...description, calls: addressCalls(o, instances, ctx.resources()) }),
    actions: {
      async check(ctx) {
        const left = missing(ctx);
        if (left.length)
          return { done: false, detail: `no address yet for ${left.join(", ")}`, facts: { missing: left } };
        const list = ctx.resources("address").map((r) => `${r.id} ${lxdAddressRecord(r).ip}`);
        return { done: true, detail: list.join(", "), facts: { missing: [] } };
      },
      async apply(ctx) {
        const pool = await labIpPool(ctx, o);
        // Every instance is asked for, not only the missing ones: allocation is idempotent per owner, and a
        // ledger that lost a recorded address (verify failed) gets it back.
        for (const name of instances) {
          const allocation = await pool.allocate(o.subnet.cidr, addressOwner(o, name));
          await ctx.record({ kind: "address", id: name, stepId: id, data: { ...allocation } });
          ctx.log(
            `${name}: ${allocation.ip}/${allocation.prefix} (gateway ${allocation.gateway}, ${allocation.source})`,
          );
        }
      },
      async verify(ctx) {
        const left = missing(ctx);
        if (left.length) throw new StepFailedError(id, `No address recorded for ${left.join(", ")}.`);
        const pool = await labIpPool(ctx, o);
        const held = await pool.list();
        for (const r of ctx.resources("address")) {
          const { ip } = lxdAddressRecord(r);
          if (!held.some((a) => a.ip === ip && isLabOwner(a.owner, o.lab, r.id))) {
            throw new StepFailedError(id, `The pool ledger does not hold ${ip} for ${r.id}.`, {
              hint: `Inspect ${join(ctx.stateDir, IP_POOL_CONFIG_FILE)} and its .state.json ledger.`,
            });
          }
        }
      },
      async undo(ctx) {
        const pool = await labIpPool(ctx, o);
        for (const name of instances) {
          await pool.release({ owner: addressOwner(o, name) });
          await ctx.forget("address", name);
        }
      },
    },
  };
}
