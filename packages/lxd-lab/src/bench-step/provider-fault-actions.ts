import { PreconditionError } from "@labgate/core";
import { FAULT_ACTIONS, type FaultAction, parseFaults } from "../faults/fault-spec.js";
import { localOptions } from "../providers/local/local-lab.js";
import { oneLabOptions } from "../providers/opennebula/one-lab-options.js";
import type { LabSpec } from "../spec/lab-spec.js";

const PROCESS_AND_LB: readonly FaultAction[] = ["stop", "kill", "pause", "drain", "maint"];

/**
 * The fault actions a provider's lab can do, known from the spec alone so the failover step can be
 * refused at plan time. Mirrors the actuators: faults/local-faults.ts (processes + runtime API; tc
 * netem only when the apps run in their own network namespaces, `providerOptions.netns`),
 * faults/lxd-faults.ts (instance stop/freeze, runtime API in the LB container, tc netem in the app
 * container), faults/one-faults.ts (VM poweroff, poweroff-hard, suspend; the runtime API and tc netem
 * inside the containers only with host access: providerOptions.ssh or hostAccess: local). The options
 * are read by each provider's own typed reader, so a wrongly typed one is refused here as the provider
 * refuses it, not taken for "off".
 */
export function faultActionsFor(spec: LabSpec): readonly FaultAction[] {
  switch (spec.provider) {
    case "local":
      return localOptions(spec).netns ? FAULT_ACTIONS : PROCESS_AND_LB;
    case "lxd":
      return FAULT_ACTIONS;
    case "opennebula":
      // drain/maint/delay/loss run inside the VMs' containers through the host (faults/one-faults.ts).
      return oneLabOptions(spec).hostAccess !== "none" ? FAULT_ACTIONS : ["stop", "kill", "pause"];
    default:
      return [];
  }
}

/** Refuses, before anything is planned to run, a spec whose faults use an action its provider lacks. */
export function assertFaultActionsSupported(spec: LabSpec, faults: readonly string[]): void {
  const have = faultActionsFor(spec);
  for (const f of parseFaults(faults)) {
    if (have.includes(f.action)) continue;
    const why =
      spec.provider === "local" && (f.action === "delay" || f.action === "loss")
        ? "it needs tc netem on each app's own network namespace, which the local provider creates only with providerOptions.netns: true (root)"
        : have.length === 0
          ? `the ${spec.provider} provider has no fault actions`
          : `the ${spec.provider} provider can only ${have.join(", ")}`;
    throw new PreconditionError(
      "FAULT_UNSUPPORTED",
      `The failover step cannot ${f.action} on this ${spec.provider} lab ('${f.text}' in faults:): ${why}.`,
      {
        hint:
          have.length === 0
            ? "Remove faults: from the lab spec, or run the failover check on a local or LXD lab."
            : `Use ${have.join(", ")} in faults:, or run this fault on an LXD lab.`,
        details: { action: f.action, provider: spec.provider, fault: f.text },
      },
    );
  }
}
