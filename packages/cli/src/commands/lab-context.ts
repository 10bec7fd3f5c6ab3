import { resolve } from "node:path";
import { StateError } from "@labgate/core";
import {
  autoYesGate,
  BUILTIN_SPEC_SOURCE,
  type Gate,
  getProvider,
  type LabProvider,
  type LabSpec,
  LabStateStore,
  loadLabSpec,
  promptGate,
  recordedSpec,
  refusingGate,
} from "@labgate/lxd-lab";
import { type LabIo, processIo } from "./lab-io.js";

export { type LabIo, processIo };

export interface LabTargetFlags {
  spec?: string;
  stateDir?: string;
}

export interface LabTarget {
  spec: LabSpec;
  /** Where the spec came from: a file name, "(built-in default)" or "(recorded in state.json)". */
  source: string;
  provider: LabProvider;
  stateDir: string;
}

/**
 * Loads the spec (--spec, lab.json/lab.yaml in cwd, built-in default) and finds the provider and
 * state dir. With `preferRecorded`, the spec the lab was built from wins (down/status/verify must
 * look at what exists, even if lab.json was edited since).
 */
export async function resolveLab(
  flags: LabTargetFlags,
  io: LabIo,
  preferRecorded: boolean,
): Promise<LabTarget & { note?: string }> {
  const loaded = await loadLabSpec(flags.spec, io.cwd);
  const stateDir = resolve(io.cwd, flags.stateDir ?? `.labgate/labs/${loaded.spec.name}`);
  let spec = loaded.spec;
  let source = loaded.source;
  let note: string | undefined;
  if (preferRecorded) {
    const state = await new LabStateStore(stateDir).load();
    const recorded = state?.spec;
    // A spec the user named (file or --spec) for another lab than the one in this state dir is a mistake,
    // not a reason to tear down or report on the other lab.
    if (state && state.lab !== spec.name && source !== BUILTIN_SPEC_SOURCE) {
      throw new StateError(
        "STATE_DIR_OTHER_LAB",
        `The state dir ${stateDir} holds the state of lab "${state.lab}", but ${source} describes lab "${spec.name}".`,
        {
          hint: `Point --state-dir at lab "${spec.name}"'s own state dir (default .labgate/labs/${spec.name}), or use the spec of lab "${state.lab}".`,
          details: { stateDir, lab: spec.name, otherLab: state.lab },
        },
      );
    }
    // state.json holds the spec with its secrets redacted: when that is all that differs, the loaded spec
    // (secrets included) is the one to use.
    if (recorded && JSON.stringify(recorded) !== JSON.stringify(recordedSpec(spec))) {
      note = `Using the spec recorded when this lab was built (${stateDir}/state.json); ${source} differs from it.`;
      spec = recorded;
      source = "(recorded in state.json)";
    }
  }
  return { spec, source, provider: getProvider(spec.provider), stateDir, ...(note ? { note } : {}) };
}

/** --yes → yes to all; a terminal → ask; otherwise refuse instead of hanging. */
export function makeGate(yes: boolean | undefined, io: LabIo): Gate {
  if (yes) return autoYesGate();
  if (io.stdin.isTTY) return promptGate({ input: io.stdin, output: io.stderr });
  return refusingGate();
}

/**
 * Runs `fn` with an abort signal tied to Ctrl-C: the first SIGINT asks the running step to stop and
 * lets the engine save state; a second one exits at once. `afterExit` says where to look next.
 */
export async function withInterrupt<T>(
  io: LabIo,
  fn: (signal: AbortSignal) => Promise<T>,
  afterExit = "run `labgate lab status` to see what is left",
): Promise<T> {
  if (io.signal) return fn(io.signal);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      io.stderr.write(`\nSecond Ctrl-C: exiting now; ${afterExit}.\n`);
      process.exit(130);
    }
    io.stderr.write(
      "\nCtrl-C: stopping after the current step saves its state (Ctrl-C again to exit at once)...\n",
    );
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  try {
    return await fn(controller.signal);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}
