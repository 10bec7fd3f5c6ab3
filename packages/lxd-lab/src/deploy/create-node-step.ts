import {
  type DeploymentPlan,
  type DeployRecord,
  deployOwner,
  type NodeRef,
  readDeployRecord,
  removeDeployRecord,
  resolveDeployNetwork,
  writeDeployRecord,
} from "@labgate/core";
import type { Found, PlanStep } from "../engine/plan-step.js";
import { DeployStepError } from "../errors.js";
import { splitPlanCalls, stepCall } from "./deploy-calls.js";
import type { DeployContext } from "./deploy-context.js";
import { canLookUp, findLeftovers, interruptedNotice } from "./leftovers.js";

export const CREATE_NODE_STEP = "create-node";

/** What check found: the record an interrupted apply left, and what of it is on the platform. */
export interface CreateNodeFacts {
  interrupted?: DeployRecord;
  leftovers: NodeRef[];
}

/**
 * Creates the node through the adapter. The intent (platform, name, the id or claim the adapter
 * announces) is written to the deploy record before every mutating call, so a process killed in the
 * middle leaves a record that finds the node again; the next apply removes what it left first.
 */
export function createNodeStep(
  ctx: Pick<DeployContext, "spec" | "platform" | "statePath">,
  plan: DeploymentPlan,
  needs: string[],
): PlanStep<DeployContext, CreateNodeFacts> {
  const { spec, platform, statePath } = ctx;
  return {
    description: {
      id: CREATE_NODE_STEP,
      title: `Create ${spec.name} on ${platform}`,
      why: `Makes the ${platform} node from the spec (size, image or template, the network resolved above). ${statePath} records the intent before each call that changes ${platform}, so an interrupted apply is found and replaced, never duplicated.`,
      calls: splitPlanCalls(plan).create.map(stepCall),
      undoCalls: [
        { kind: "sdk", display: `destroy the ${platform} node recorded in ${statePath}` },
        { kind: "file", display: `rm ${statePath}` },
      ],
      diagnostics: [`cat ${statePath}`],
      needs,
    },
    actions: {
      async check(c): Promise<Found<CreateNodeFacts>> {
        const record = await readDeployRecord(c.statePath);
        if (!record) return { done: false, facts: { leftovers: [] } };
        if (record.status !== "creating") {
          const info = await c.adapter.get(record.ref, { signal: c.signal });
          return info
            ? {
                done: true,
                detail: `node ${record.ref.id} exists (${info.rawState})`,
                facts: { leftovers: [] },
              }
            : {
                done: false,
                detail: `node ${record.ref.id} is gone from ${c.platform}`,
                facts: { leftovers: [] },
              };
        }
        // An interrupted apply left its intent: what it may have created is found by id, name or claim.
        const leftovers = await findLeftovers(c.adapter, record, c.statePath);
        c.warn(interruptedNotice(record, leftovers, c.statePath));
        return { done: false, facts: { interrupted: record, leftovers } };
      },
      async apply(c, found) {
        for (const leftover of found.facts.leftovers) {
          c.log(
            `Removing ${c.platform} node ${leftover.id} (${leftover.name}) left by the interrupted apply ...`,
          );
          await c.adapter.destroy(leftover, { onCall: (d) => c.log(`  → ${d}`) });
        }
        // The address is held by reserve-address; resolving again hands back the same one without writing.
        const resolved = await resolveDeployNetwork(c.spec, c.platform, c.pool, { dryRun: true });
        const network = resolved.spec.resolvedNetwork;
        const owner = network.mode === "static" && c.pool ? deployOwner(c.spec, c.platform) : undefined;
        const record = (ref: NodeRef, status?: "creating"): DeployRecord => ({
          version: 1,
          ...(status ? { status } : {}),
          ref,
          network,
          ...(owner ? { ipOwner: owner } : {}),
          createdAt: new Date().toISOString(),
        });
        const intend = (ref: NodeRef) => writeDeployRecord(c.statePath, record(ref, "creating"));
        await intend({ platform: c.platform, id: "", name: c.spec.name });
        let ref: NodeRef;
        try {
          ref = await c.adapter.create(resolved.spec, {
            onCall: (d) => c.log(`  → ${d}`),
            beforeMutation: intend,
            ...(c.signal ? { signal: c.signal } : {}),
          });
        } catch (error) {
          await keepOrDropIntent(c);
          throw error;
        }
        try {
          await writeDeployRecord(c.statePath, record(ref));
        } catch (error) {
          // Without a record, destroy could never find this node again: remove it rather than leave it behind.
          c.warn(`Could not record ${c.spec.name} in ${c.statePath}; removing node ${ref.id} again.`);
          await c.adapter.destroy(ref).catch(() => undefined);
          await removeDeployRecord(c.statePath).catch(() => undefined);
          throw error;
        }
        c.report.ref = ref;
        c.report.network = network;
        c.log(`Created ${ref.platform} node ${ref.id}.`);
      },
      async verify(c) {
        const record = await readDeployRecord(c.statePath);
        if (!record || record.status === "creating")
          throw new DeployStepError(
            "DEPLOY_RECORD_INCOMPLETE",
            `${c.statePath} does not record a complete node after create.`,
            `Read it (\`cat ${c.statePath}\`); run \`labgate deploy apply\` again: create-node finds what the platform holds.`,
            { statePath: c.statePath },
          );
        if (!(await c.adapter.get(record.ref, { signal: c.signal })))
          throw new DeployStepError(
            "DEPLOY_NODE_MISSING",
            `${c.platform} has no node ${record.ref.id} (${record.ref.name}) after create.`,
            `Look for it on ${c.platform}; \`labgate deploy destroy\` forgets the record, then apply again.`,
            { ref: record.ref },
          );
      },
      async undo(c) {
        const record = await readDeployRecord(c.statePath);
        if (!record) return;
        // An interrupted apply's record may not name the node yet (or may name one that was never made).
        const targets =
          record.status === "creating" ? await findLeftovers(c.adapter, record, c.statePath) : [record.ref];
        if (record.status === "creating") c.warn(interruptedNotice(record, targets, c.statePath));
        for (const target of targets) {
          await c.adapter.destroy(target, { onCall: (d) => c.log(`  → ${d}`) });
          c.report.destroyed.push(target);
        }
        await removeDeployRecord(c.statePath);
      },
    },
  };
}

/**
 * A create that failed: when the platform may hold something of it, the intent stays (destroy or a
 * re-run finds it); when nothing was sent or nothing is there, the intent goes, so the record does not
 * claim a node that never existed.
 */
async function keepOrDropIntent(c: DeployContext): Promise<void> {
  // Adapters that can look nodes up announce every mutating call; the others clean up inside create.
  const intent = canLookUp(c.adapter)
    ? await readDeployRecord(c.statePath).catch(() => undefined)
    : undefined;
  const left = intent ? await findLeftovers(c.adapter, intent, c.statePath).catch(() => undefined) : [];
  if (left === undefined || left.length > 0) {
    c.warn(
      `${c.spec.name} may be half-created on ${c.platform}${left?.length ? ` (node ${left.map((r) => r.id).join(", ")})` : ""}; ${c.statePath} keeps it. Run \`labgate deploy destroy\` with the same spec, or apply again.`,
    );
    return;
  }
  await removeDeployRecord(c.statePath);
}
