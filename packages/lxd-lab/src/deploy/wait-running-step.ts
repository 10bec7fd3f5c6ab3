import { type DeploymentPlan, readDeployRecord } from "@labgate/core";
import type { PlanStep } from "../engine/plan-step.js";
import { DeployStepError } from "../errors.js";
import { CREATE_NODE_STEP } from "./create-node-step.js";
import { splitPlanCalls, stepCall } from "./deploy-calls.js";
import type { DeployContext } from "./deploy-context.js";

export const WAIT_RUNNING_STEP = "wait-running";

/** Waits until the platform reports the recorded node running. Changes nothing: undo only forgets it. */
export function waitRunningStep(
  ctx: Pick<DeployContext, "spec" | "platform" | "statePath" | "timeoutMs">,
  plan: DeploymentPlan,
): PlanStep<DeployContext> {
  return {
    description: {
      id: WAIT_RUNNING_STEP,
      title: `Wait until ${ctx.spec.name} runs`,
      why: `The node is deployed when ${ctx.platform} says it runs, not when the create call returned; waits up to ${Math.round(ctx.timeoutMs / 1000)} s (--timeout).`,
      calls: splitPlanCalls(plan).wait.map(stepCall),
      needs: [CREATE_NODE_STEP],
      readOnly: true,
      // The record names the node to look at on the platform.
      diagnostics: [`cat ${ctx.statePath}`],
    },
    actions: {
      async check(c) {
        const ref = await recordedNode(c);
        if (!ref) return { done: false, facts: undefined };
        const info = await c.adapter.get(ref, { signal: c.signal });
        if (info?.state !== "running")
          return { done: false, detail: info ? info.rawState : "no such node", facts: undefined };
        c.report.info = info;
        return { done: true, detail: `${info.rawState}`, facts: undefined };
      },
      async apply(c) {
        const ref = await recordedNode(c);
        if (!ref)
          throw new DeployStepError(
            "DEPLOY_RECORD_INCOMPLETE",
            `${c.statePath} records no complete node to wait for.`,
            "Run create-node first: `labgate deploy apply` without --step runs every step that is not done.",
            { statePath: c.statePath },
          );
        c.log(`Waiting for ${c.platform} node ${ref.id} to run ...`);
        c.report.info = await c.adapter.waitUntilRunning(ref, {
          timeoutMs: c.timeoutMs,
          ...(c.signal ? { signal: c.signal } : {}),
        });
      },
      async verify(c) {
        const ref = await recordedNode(c);
        const info = ref ? await c.adapter.get(ref, { signal: c.signal }) : undefined;
        if (info?.state !== "running")
          throw new DeployStepError(
            info ? "DEPLOY_NODE_NOT_RUNNING" : "DEPLOY_NODE_MISSING",
            `${c.spec.name} is ${info ? info.rawState : "missing"} on ${c.platform}, not running.`,
            `Look at the node on ${c.platform} (its console or log); \`labgate deploy apply\` waits again.`,
            { statePath: c.statePath },
          );
        c.report.info = info;
      },
      async undo() {},
    },
  };
}

async function recordedNode(c: DeployContext) {
  const record = await readDeployRecord(c.statePath);
  return record && record.status !== "creating" ? record.ref : undefined;
}
