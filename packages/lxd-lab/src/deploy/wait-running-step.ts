import { type DeploymentPlan, type NodeRef, readDeployRecord } from "@labgate/core";
import type { Found, PlanStep, StepCall, StepDescription } from "../engine/plan-step.js";
import { DeployStepError } from "../errors.js";
import { CREATE_NODE_STEP } from "./create-node-step.js";
import { splitPlanCalls, stepCall } from "./deploy-calls.js";
import type { DeployContext } from "./deploy-context.js";

export const WAIT_RUNNING_STEP = "wait-running";

/** What check found: the recorded node, stopped on the platform, that apply starts before it waits. */
export interface WaitRunningFacts {
  stopped?: NodeRef;
}

/**
 * Waits until the platform reports the recorded node running. A resumed apply that finds the node
 * stopped (shut down since the run that made it) starts it first; otherwise it changes nothing, and
 * undo only forgets it (create-node's undo removes the node).
 */
export function waitRunningStep(
  ctx: Pick<DeployContext, "spec" | "platform" | "statePath" | "timeoutMs">,
  plan: DeploymentPlan,
): PlanStep<DeployContext, WaitRunningFacts> {
  const description: StepDescription = {
    id: WAIT_RUNNING_STEP,
    title: `Wait until ${ctx.spec.name} runs`,
    why: `The node is deployed when ${ctx.platform} says it runs, not when the create call returned; waits up to ${Math.round(ctx.timeoutMs / 1000)} s (--timeout).`,
    calls: splitPlanCalls(plan).wait.map(stepCall),
    needs: [CREATE_NODE_STEP],
    readOnly: true,
    // The record names the node to look at on the platform.
    diagnostics: [`cat ${ctx.statePath}`],
  };
  return {
    description,
    current(_c, found) {
      const stopped = found?.facts?.stopped;
      if (!stopped) return description;
      return {
        ...description,
        why: `${ctx.spec.name} exists on ${ctx.platform} (node ${stopped.id}) but is stopped: it is started first. ${description.why}`,
        calls: [startCall(stopped), ...description.calls],
      };
    },
    actions: {
      async check(c): Promise<Found<WaitRunningFacts>> {
        const ref = await recordedNode(c);
        if (!ref) return { done: false, facts: {} };
        const info = await c.adapter.get(ref, { signal: c.signal });
        if (info?.state === "running") {
          c.report.info = info;
          return { done: true, detail: `${info.rawState}`, facts: {} };
        }
        // A node this run just created was started by its create call: a stopped answer right after is
        // the platform catching up (or the guest stopping itself), not something a second start fixes.
        const stopped = info?.state === "stopped" && c.report.ref === undefined ? { stopped: ref } : {};
        return { done: false, detail: info ? info.rawState : "no such node", facts: stopped };
      },
      async apply(c, found) {
        const ref = await recordedNode(c);
        if (!ref)
          throw new DeployStepError(
            "DEPLOY_RECORD_INCOMPLETE",
            `${c.statePath} records no complete node to wait for.`,
            "Run create-node first: `labgate deploy apply` without --step runs every step that is not done.",
            { statePath: c.statePath },
          );
        if (found.facts.stopped) await startRecorded(c, found.facts.stopped);
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

/** The start call as the gate shows it: the adapter's start of the recorded node. */
function startCall(ref: NodeRef): StepCall {
  return { kind: "sdk", display: `start ${ref.platform} node ${ref.id} (${ref.name})` };
}

/**
 * Starts the node check found stopped. As create does, the intent is on disk before the mutating call:
 * the complete record already names the node, so it is only confirmed that it still does, before the
 * start and again before each call the adapter announces (a destroy run meanwhile, or a record replaced
 * by hand, must not lead to starting a node nobody records).
 */
async function startRecorded(c: DeployContext, node: NodeRef): Promise<void> {
  const stillRecorded = async (target: NodeRef) => {
    const recorded = await recordedNode(c);
    if (recorded?.id !== target.id)
      throw new DeployStepError(
        "DEPLOY_RECORD_INCOMPLETE",
        `${c.statePath} no longer records ${c.platform} node ${target.id}; it was not started.`,
        `Read it (\`cat ${c.statePath}\`) and run \`labgate deploy apply\` again: its checks look at what the record names now.`,
        { statePath: c.statePath, node: target.id },
      );
  };
  await stillRecorded(node);
  c.log(`Starting ${c.platform} node ${node.id} (${node.name}): it is stopped ...`);
  await c.adapter.start(node, {
    onCall: (d) => c.log(`  → ${d}`),
    beforeMutation: stillRecorded,
    ...(c.signal ? { signal: c.signal } : {}),
  });
}

async function recordedNode(c: DeployContext) {
  const record = await readDeployRecord(c.statePath);
  return record && record.status !== "creating" ? record.ref : undefined;
}
