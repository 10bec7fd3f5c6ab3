import { deployOwner, type ResolvedNetwork, readDeployRecord, resolveDeployNetwork } from "@labgate/core";
import type { PlanStep } from "../engine/plan-step.js";
import { DeployStepError } from "../errors.js";
import type { DeployContext } from "./deploy-context.js";
import { refuseUnknownInterrupted } from "./leftovers.js";

export const RESERVE_ADDRESS_STEP = "reserve-address";

/**
 * Holds the node's static address in the IP pool's ledger under `deploy/<platform>/<name>`, so the pool
 * never hands it to another VM. Taking it (allocate, or reserve a spec's own address) and giving it
 * back are the pool's own idempotent operations: a resumed apply finds it already held.
 */
export function reserveAddressStep(
  ctx: Pick<DeployContext, "spec" | "platform" | "pool">,
  preview: Extract<ResolvedNetwork, { mode: "static" }>,
): PlanStep<DeployContext> {
  const owner = deployOwner(ctx.spec, ctx.platform);
  const ledger = ctx.pool?.statePath ?? "<ledger>";
  const verb = preview.source === "spec" ? "reserve" : "allocate";
  return {
    description: {
      id: RESERVE_ADDRESS_STEP,
      title: `${verb === "reserve" ? "Reserve" : "Allocate"} ${preview.ip} in the IP pool`,
      why:
        preview.source === "spec"
          ? `The spec names ${preview.ip}: it is recorded in the pool's ledger under ${owner}, so no other VM gets it (an address the pool already gave someone else, the gateway or the network address is refused here).`
          : `${preview.ip}/${preview.prefix} is the next free address of the pool (${preview.source}); it is recorded under ${owner} before the node is made, so two deployments never get the same address.`,
      calls: [
        {
          kind: "file",
          display: `${verb} ${preview.ip}/${preview.prefix} for ${owner} in ${ledger}`,
        },
      ],
      undoCalls: [{ kind: "file", display: `release ${owner} in ${ledger}` }],
      diagnostics: [`labgate ip list --state ${ledger}`],
    },
    actions: {
      async check(c) {
        // An interrupted apply nobody can resume is refused here, before the ledger is written, not in
        // create-node after an address was taken for a node that may never be made.
        const record = await readDeployRecord(c.statePath);
        if (record) refuseUnknownInterrupted(c.adapter, record, c.statePath);
        const held = await heldBy(c, owner);
        return held.length
          ? { done: true, detail: `${held.join(", ")} held by ${owner}`, facts: undefined }
          : { done: false, facts: undefined };
      },
      async apply(c) {
        const resolved = await resolveDeployNetwork(c.spec, c.platform, c.pool);
        const network = resolved.spec.resolvedNetwork;
        if (network.mode === "static" && network.ip !== preview.ip)
          c.warn(
            `The pool changed since the plan was made: ${c.spec.name} gets ${network.ip}, not ${preview.ip}.`,
          );
      },
      async verify(c) {
        if ((await heldBy(c, owner)).length === 0)
          throw new DeployStepError(
            "DEPLOY_ADDRESS_NOT_HELD",
            `The ledger ${ledger} holds no address for ${owner} after the allocation.`,
            `Check it with \`labgate ip list\`; a hand-edited or replaced ledger loses holds. Run \`labgate deploy apply\` again.`,
            { ledger, owner },
          );
      },
      async undo(c) {
        if ((await heldBy(c, owner)).length === 0 || !c.pool) return;
        const released = await c.pool.release({ owner });
        c.report.released.push(...released.map((a) => a.ip));
      },
    },
  };
}

async function heldBy(ctx: Pick<DeployContext, "pool">, owner: string): Promise<string[]> {
  if (!ctx.pool) return [];
  return (await ctx.pool.list()).filter((a) => a.owner === owner).map((a) => a.ip);
}
