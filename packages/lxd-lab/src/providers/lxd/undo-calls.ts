import { instanceStateCall } from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import { EXPOSE_DEVICE, type LxdLabOptions } from "./lxd-lab-options.js";

/**
 * The calls each LXD step's undo makes, as shown at the undo gate (the same order as its `undo`). Every
 * removal is guarded by the lab marker: an object without `user.labgate.lab=<lab>` is left in place.
 */
export function lxdUndoCalls(o: LxdLabOptions, stepId: string): StepCall[] | undefined {
  const calls = undoDisplays(o, stepId);
  return calls?.map((display) => ({ kind: display.startsWith("release") ? "file" : "http", display }));
}

function undoDisplays(o: LxdLabOptions, stepId: string): string[] | undefined {
  const marker = `(only if it carries user.labgate.lab=${o.lab})`;
  if (stepId === "create-network") return [`DELETE /1.0/networks/${o.bridge}   ${marker}`];
  if (stepId === "allocate-addresses")
    return [
      `release ${[...o.apps, o.lb].map((p) => p.instance).join(", ")} from the lab's IP ledger (<state>)`,
    ];
  if (stepId === "expose-lb")
    return [
      `PUT /1.0/instances/${o.lb.instance}   # remove device ${EXPOSE_DEVICE}: the instance without it ${marker}`,
    ];
  for (const plan of [...o.apps, o.lb]) {
    if (stepId === `launch-${plan.name}`)
      return [
        `${instanceStateCall(plan.instance, "stop", { force: true })}   ${marker}`,
        `DELETE /1.0/instances/${plan.instance}`,
      ];
  }
  return undefined;
}
