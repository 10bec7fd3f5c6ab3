import { PreconditionError } from "@labgate/core";
import { LabStateStore } from "../engine/lab-state.js";
import type { LabProvider, Step } from "../engine/step.js";
import { createStepContext } from "../engine/step-context.js";
import type { LabSpec } from "../spec/lab-spec.js";
import type { FaultActuator } from "./fault-runner.js";
import { describeFault, type FaultSpec } from "./fault-spec.js";
import { localFaultActuator } from "./local-faults.js";

export interface LabFaultTarget {
  spec: LabSpec;
  provider: LabProvider;
  stateDir: string;
}

/**
 * The fault actions for a built lab, from its state (pids, sockets). Refuses labs that were never
 * built and providers whose fault actions are not there yet, before anything runs.
 */
export async function labFaultActuator(
  lab: LabFaultTarget,
  log: (message: string) => void,
  signal: AbortSignal,
): Promise<FaultActuator> {
  const store = new LabStateStore(lab.stateDir);
  if ((await store.load()) === undefined) {
    throw new PreconditionError(
      "FAULT_NO_LAB",
      `No lab state in ${lab.stateDir}: lab "${lab.spec.name}" was not built.`,
      {
        hint: "Run `labgate lab up` first (or point --state-dir at the lab's state dir).",
        details: { stateDir: lab.stateDir },
      },
    );
  }
  if (lab.provider.name !== "local") {
    throw new PreconditionError(
      "FAULT_UNSUPPORTED",
      `Faults on ${lab.provider.name} labs are not available yet; only the local lab has fault actions.`,
      {
        hint: "Run the failover bench on the local lab (`labgate lab up` with the default spec).",
        details: { provider: lab.provider.name },
      },
    );
  }
  return localFaultActuator(createStepContext(store, lab.spec, lab.provider, log, signal));
}

/** The fault run shown at the gate like a lab step: what happens, when, and how it is undone. */
export function faultGateStep(faults: readonly FaultSpec[], lab: LabFaultTarget): Step {
  const undo = (f: FaultSpec) =>
    f.action === "drain" || f.action === "maint"
      ? `set server ${f.target} state ready`
      : f.action === "pause"
        ? `SIGCONT ${f.target}`
        : `restart ${f.target} through its start step`;
  return {
    id: "faults",
    title: `Inject ${faults.length} fault${faults.length === 1 ? "" : "s"} into lab "${lab.spec.name}" during the bench`,
    why:
      "Each fault is applied at its offset into the measured run and undone at the end of its window, " +
      "or at once on Ctrl-C or an error, so no backend is left stopped, paused or drained.",
    commands: faults.map((f) => `${describeFault(f)}; then ${undo(f)}`),
    check: async () => ({ done: false }),
    apply: async () => {},
    verify: async () => {},
    undo: async () => {},
  };
}
