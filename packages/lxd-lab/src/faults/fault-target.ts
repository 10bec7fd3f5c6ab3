import { InvalidInputError } from "@labgate/core";
import type { FaultSpec } from "./fault-spec.js";

/**
 * The lab app a fault names, by its short name (app2) or the provider's name for it (<lab>-app2, the VM's
 * name); throws FAULT_TARGET_UNKNOWN, listing the lab's apps, when it names none of them.
 */
export function faultTargetApp<T extends { name: string }>(
  lab: string,
  apps: readonly T[],
  fault: FaultSpec,
  providerName: (app: T) => string,
): T {
  const app = apps.find((a) => a.name === fault.target || providerName(a) === fault.target);
  if (!app) {
    throw new InvalidInputError(
      "FAULT_TARGET_UNKNOWN",
      `Fault '${fault.text}': lab "${lab}" has no backend ${fault.target} (it has ${apps.map((a) => a.name).join(", ")}).`,
      { hint: "Name one of the lab's apps as the fault's target.", details: { fault: fault.text } },
    );
  }
  return app;
}
