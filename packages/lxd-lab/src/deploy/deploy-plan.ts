import {
  type DeploymentPlan,
  type ResolvedNetwork,
  type ResolvedSpec,
  resolveDeployNetwork,
} from "@labgate/core";
import type { PlanStep } from "../engine/plan-step.js";
import { createNodeStep } from "./create-node-step.js";
import type { DeployContext } from "./deploy-context.js";
import { reserveAddressStep } from "./reserve-address-step.js";
import { waitRunningStep } from "./wait-running-step.js";

export interface DeploymentSteps {
  /** The adapter's plan for the spec as it would resolve now (the address the pool would give). */
  plan: DeploymentPlan;
  preview: ResolvedSpec;
  /** reserve-address (when the pool gives the address), create-node, wait-running. */
  steps: PlanStep<DeployContext>[];
}

/**
 * A deployment as runPlan's steps. Nothing is written: the address is previewed (the pool's answer
 * for this owner, so an address already held comes back as itself) and the calls come from
 * adapter.plan(), the code that later makes them. `deploy destroy` is the undo of the same steps, built
 * from the network the record holds (`recorded`): what was made, whatever the pool would answer today.
 */
export async function planDeploymentSteps(
  ctx: Pick<DeployContext, "adapter" | "spec" | "platform" | "pool" | "statePath" | "timeoutMs">,
  recorded?: ResolvedNetwork,
): Promise<DeploymentSteps> {
  const preview: ResolvedSpec = recorded
    ? { ...ctx.spec, platform: ctx.platform, resolvedNetwork: recorded }
    : (await resolveDeployNetwork(ctx.spec, ctx.platform, ctx.pool, { dryRun: true })).spec;
  const plan = ctx.adapter.plan(preview);
  const network = preview.resolvedNetwork;
  const reserve = network.mode === "static" && ctx.pool ? [reserveAddressStep(ctx, network)] : [];
  return {
    plan,
    preview,
    steps: [
      ...reserve,
      createNodeStep(
        ctx,
        plan,
        reserve.map((s) => s.description.id),
      ),
      waitRunningStep(ctx, plan),
    ],
  };
}
