import { PreconditionError } from "@labgate/core";
import { LabStateStore } from "../engine/lab-state.js";
import type { StepCall } from "../engine/plan-step.js";
import type { LabProvider, LabStep } from "../engine/step.js";
import { createStepContext } from "../engine/step-context.js";
import { lxdLabOptions } from "../providers/lxd/lxd-lab-options.js";
import { defaultClientFactory } from "../providers/lxd/lxd-runtime.js";
import { oneLabOptions } from "../providers/opennebula/one-lab-options.js";
import { OneLabRuntime } from "../providers/opennebula/one-lab-runtime.js";
import type { LabSpec } from "../spec/lab-spec.js";
import type { FaultActuator } from "./fault-runner.js";
import { describeFault, type FaultSpec } from "./fault-spec.js";
import { localFaultActuator, localFaultCalls } from "./local-faults.js";
import { assertLxdNetem, lxdFaultActuator, lxdFaultCalls } from "./lxd-faults.js";
import { oneFaultActuator, oneFaultCalls } from "./one-faults.js";

export interface LabFaultTarget {
  spec: LabSpec;
  provider: LabProvider;
  stateDir: string;
}

/**
 * The fault actions for a built lab, from its state (pids, sockets, instances). Refuses labs that were
 * never built and providers without fault actions, before anything runs; given the faults, also checks
 * what they need from the lab's machines (tc netem for delay/loss on LXD).
 */
export async function labFaultActuator(
  lab: LabFaultTarget,
  log: (message: string) => void,
  signal: AbortSignal,
  faults: readonly FaultSpec[] = [],
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
  const ctx = createStepContext(store, lab.spec, lab.provider, log, signal);
  if (lab.provider.name === "lxd") {
    const client = defaultClientFactory(lxdLabOptions(lab.spec));
    const actuator = lxdFaultActuator(ctx, client);
    for (const f of faults) actuator(f);
    await assertLxdNetem(client, lab.spec, faults);
    return actuator;
  }
  if (lab.provider.name === "opennebula") {
    const rt = new OneLabRuntime(oneLabOptions(lab.spec), {});
    const runner = rt.runner();
    const actuator = oneFaultActuator(ctx, rt.options, {
      client: rt.client(ctx),
      ...(runner ? { runner } : {}),
    });
    for (const f of faults) actuator(f);
    return actuator;
  }
  if (lab.provider.name !== "local") {
    throw new PreconditionError(
      "FAULT_UNSUPPORTED",
      `Faults on ${lab.provider.name} labs are not available; the local, LXD and OpenNebula labs have fault actions.`,
      {
        hint: "Run the failover bench on a local, LXD or OpenNebula lab.",
        details: { provider: lab.provider.name },
      },
    );
  }
  return localFaultActuator(ctx);
}

/**
 * The fault run shown at the gate like a lab step: what happens, when, and how it is undone. Only its
 * description is used (the gate, --yes output); the faults themselves run inside the bench, on schedule,
 * so its actions change nothing.
 */
export function faultGateStep(faults: readonly FaultSpec[], lab: LabFaultTarget): LabStep<undefined> {
  return {
    description: {
      id: "faults",
      title: `Inject ${faults.length} fault${faults.length === 1 ? "" : "s"} into lab "${lab.spec.name}" during the bench`,
      why:
        "Each fault is applied at its offset into the measured run and undone at the end of its window, " +
        "or at once on Ctrl-C or an error, so no backend is left stopped, paused or drained.",
      calls: faults.map((f) => faultCall(lab, f)),
    },
    actions: {
      check: async () => ({ done: false, facts: undefined }),
      apply: async () => {},
      verify: async () => {},
      undo: async () => {},
    },
  };
}

/** One fault as a planned call: what does it, then what undoes it, through what it talks to. */
function faultCall(lab: LabFaultTarget, f: FaultSpec): StepCall {
  const provider = lab.provider.name;
  const calls =
    provider === "lxd"
      ? lxdFaultCalls(lab.spec, f)
      : provider === "opennebula"
        ? oneFaultCalls(oneLabOptions(lab.spec), f)
        : localFaultCalls(lab.spec, f);
  const display = `${describeFault(f)}: ${calls.apply}; then ${calls.undo}`;
  if (provider === "lxd") return { display, kind: "http", where: "lxd" };
  if (provider !== "opennebula") return { display, kind: "command" };
  // On OpenNebula, stop/kill/pause are VM actions; the others run in the containers through the host.
  return ["stop", "kill", "pause"].includes(f.action)
    ? { display, kind: "xmlrpc" }
    : { display, kind: "command", where: "host" };
}
