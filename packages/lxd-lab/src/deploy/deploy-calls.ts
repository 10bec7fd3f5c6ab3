import type { DeploymentPlan, PlannedCall } from "@labgate/core";
import type { StepCall } from "../engine/plan-step.js";

/** A core PlannedCall as the runner shows it: `POST /api2/json/...`, `one.template.instantiate template 7`. */
export function stepCall(call: PlannedCall): StepCall {
  const params = call.params ? ` ${JSON.stringify(call.params)}` : "";
  const display =
    call.kind === "command" ? `${call.target}${params}` : `${call.action} ${call.target}${params}`;
  const where = call.where === "host" ? { where: "host" } : {};
  return { display, kind: call.kind, ...where };
}

/**
 * Every adapter's plan ends with the poll that waits for the node to run ("Poll until ..."): those
 * calls belong to wait-running, the ones before them to create-node. Split here so both steps show
 * exactly the calls the adapter said it makes, in its order.
 */
export function splitPlanCalls(plan: DeploymentPlan): { create: PlannedCall[]; wait: PlannedCall[] } {
  let cut = plan.calls.length;
  while (cut > 0 && isPoll(plan.calls[cut - 1] as PlannedCall)) cut--;
  return { create: plan.calls.slice(0, cut), wait: plan.calls.slice(cut) };
}

function isPoll(call: PlannedCall): boolean {
  return /^Poll until\b/.test(call.why);
}
