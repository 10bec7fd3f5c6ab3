import { join } from "node:path";
import { acquireFileLock, StateError } from "@labgate/core";
import type { LabSpec } from "../spec/lab-spec.js";
import { recordedSpec } from "../spec/recorded-spec.js";
import type { Gate } from "./gate.js";
import { type LabState, LabStateStore, type StepRecord } from "./lab-state.js";
import type { PlanOutcome, PlanStore, RunPlanOptions, StepDescription } from "./plan-step.js";
import { planSteps, selectSteps } from "./plan-view.js";
import { checkReplace, runPlan } from "./run-plan.js";
import type { LabProvider, LabStep, StepContext } from "./step.js";
import { createStepContext } from "./step-context.js";
import { fillStateDir } from "./step-failure.js";
import { needsOf } from "./step-needs.js";

export interface LabRunOptions {
  provider: LabProvider;
  spec: LabSpec;
  /** This lab's state directory (state.json, logs, pid files). */
  stateDir: string;
  gate: Gate;
  /** Lines for people (stderr). */
  log?: (message: string) => void;
  /** Ctrl-C: stops the current step, saves state, ends with LabInterruptedError (exit 130). */
  signal?: AbortSignal;
  /** Run (or undo) just this step. */
  step?: string | undefined;
  /** `up` only: start at this step. */
  from?: string | undefined;
  /** `up` only: undo this step and apply it again, whatever its check says (repairs what re-running cannot). */
  replace?: string | undefined;
}

export type StepOutcomeKind =
  | "already-done"
  | "applied"
  | "replaced"
  | "skipped"
  | "undone"
  | "nothing-to-undo";

export interface StepOutcome {
  id: string;
  title: string;
  outcome: StepOutcomeKind;
  detail?: string;
}

export interface LabRunResult {
  lab: string;
  provider: string;
  stateDir: string;
  action: "up" | "down";
  steps: StepOutcome[];
  /** Did this run change anything? */
  changed: boolean;
  /** up: every step in the run is done; down: everything is gone. */
  complete: boolean;
  /** down: the state dir was removed. */
  stateRemoved?: boolean;
  /** down: entries in the state dir that labgate did not create, so it (and they) stayed. */
  keptForeign?: string[];
  message: string;
}

const RUN_LOCK_TIMEOUT_MS = 2_000;

/**
 * `lab up`: the lab's wrapper around runPlan (same-lab check, run lock, the dirs a refused new lab leaves
 * behind). Resumes by construction: steps whose check says done are not run again.
 */
export async function labUp(options: LabRunOptions): Promise<LabRunResult> {
  const { provider, spec } = options;
  const all = planSteps(provider, spec);
  const steps = selectSteps(descriptions(all), options);
  checkReplace(descriptions(all), steps, options.replace, "lab", "labgate lab plan");
  const store = new LabStateStore(options.stateDir);
  const existing = await store.load();
  assertSameLab(existing, spec, provider, options.stateDir);
  const fresh = existing === undefined;
  const createdTop = await store.ensureDir();
  const release = await lockRun(options.stateDir);
  let outcomes: StepOutcome[];
  try {
    const run = await runPlan(all, {
      ...labRun(options, store, all, "labgate lab up"),
      mode: "apply",
      step: options.step,
      from: options.from,
      replace: options.replace,
    });
    outcomes = run.steps.map(toStepOutcome);
  } finally {
    await release();
    // A run refused or stopped before it recorded anything leaves none of the dirs it made behind.
    if (fresh && (await store.load().catch(() => "unreadable")) === undefined)
      await store.removeCreatedDirs(createdTop);
  }
  const applied = outcomes.filter((o) => o.outcome === "applied" || o.outcome === "replaced").length;
  const skipped = outcomes.filter((o) => o.outcome === "skipped").length;
  let message: string;
  if (applied === 0 && skipped === 0)
    message = `nothing to do: all ${steps.length} steps already done and verified`;
  else if (skipped > 0)
    message = `${applied} step(s) run, ${skipped} skipped at your request: the lab is incomplete`;
  else message = `lab "${spec.name}" is up: ${applied} step(s) run, ${steps.length - applied} already done`;
  return {
    lab: spec.name,
    provider: provider.name,
    stateDir: options.stateDir,
    action: "up",
    steps: outcomes,
    changed: applied > 0,
    complete: skipped === 0,
    message,
  };
}

/**
 * `lab down`: runPlan's undo over the steps that ran (recorded in the state, or owning resources), each
 * behind the gate; read-only checks are cleared without asking. When nothing is left, the files labgate
 * created go, and the state dir too when it was labgate's and is empty then.
 */
export async function labDown(options: LabRunOptions): Promise<LabRunResult> {
  const { provider, spec } = options;
  const store = new LabStateStore(options.stateDir);
  const existing = await store.load();
  // Without state nothing ran here: nothing to undo, even for a spec whose plan() refuses its options.
  const all = existing ? planSteps(provider, spec) : [];
  selectSteps(descriptions(all), { step: existing ? options.step : undefined });
  assertSameLab(existing, spec, provider, options.stateDir);
  const release = existing ? await lockRun(options.stateDir) : async () => {};
  let outcomes: StepOutcome[] = [];
  let removed = false;
  let keptForeign: string[] = [];
  let released = false;
  try {
    const run = await runPlan(all, {
      ...labRun(options, store, all, "labgate lab down"),
      mode: "undo",
      step: existing ? options.step : undefined,
    });
    outcomes = run.steps.map(toStepOutcome);
    const state = store.snapshot(spec.name, provider.name);
    const everythingGone =
      existing !== undefined &&
      outcomes.every((o) => o.outcome !== "skipped") &&
      state.resources.length === 0 &&
      Object.keys(state.steps).length === 0;
    if (everythingGone && options.step === undefined) {
      released = true;
      await release();
      const removal = await store.removeOwned();
      removed = removal.stateDirRemoved;
      keptForeign = removal.foreign;
    }
  } finally {
    if (!released) await release();
  }
  const undone = outcomes.filter((o) => o.outcome === "undone").length;
  const skipped = outcomes.filter((o) => o.outcome === "skipped").length;
  const left = store.snapshot(spec.name, provider.name).resources;
  const cleared = released;
  let message: string;
  if (existing === undefined)
    message = `nothing to undo: lab "${spec.name}" has no state in ${options.stateDir}`;
  else if (cleared) {
    const where = removed
      ? `state dir ${options.stateDir} removed`
      : keptForeign.length
        ? `labgate's files removed; ${options.stateDir} kept: it holds files labgate did not create (${keptForeign.slice(0, 5).join(", ")}${keptForeign.length > 5 ? ", ..." : ""})`
        : `labgate's files removed; ${options.stateDir} kept: it existed before the lab`;
    message =
      undone === 0
        ? `nothing to undo: lab "${spec.name}" has nothing left here; ${where}`
        : `lab "${spec.name}" is down: ${undone} step(s) undone, ${where}`;
  } else
    message = `${undone} step(s) undone${skipped ? `, ${skipped} left in place` : ""}; still recorded: ${
      left.map((r) => `${r.kind} ${r.id}`).join(", ") || "step progress only"
    } (state kept in ${options.stateDir})`;
  return {
    lab: spec.name,
    provider: provider.name,
    stateDir: options.stateDir,
    action: "down",
    steps: outcomes,
    changed: undone > 0,
    complete: cleared || existing === undefined,
    stateRemoved: removed,
    ...(keptForeign.length ? { keptForeign } : {}),
    message,
  };
}

/** What `lab up` and `lab down` (and their dry runs) give runPlan: the lab state as its store, and the lab's hooks. */
export function labRun(
  options: LabRunOptions,
  store: LabStateStore,
  all: LabStep[],
  resume: string,
): Omit<RunPlanOptions<StepContext>, "mode"> {
  const { provider, spec } = options;
  const log = options.log ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const snapshot = () => store.snapshot(spec.name, provider.name);
  const owned = (stepId: string) => snapshot().resources.filter((r) => r.stepId === stepId);
  const planStore: PlanStore = {
    location: store.path,
    status: (stepId) => snapshot().steps[stepId],
    mark: (stepId, record) => mark(store, spec, provider, stepId, record, record.status === "done"),
    forget: (stepId) => forgetStep(store, spec, provider, stepId),
  };
  return {
    ctx: createStepContext(store, spec, provider, log, signal),
    store: planStore,
    gate: options.gate,
    log,
    signal,
    resume,
    noun: "lab",
    planCommand: "labgate lab plan",
    hooks: {
      async around(_stepId, _action, work) {
        const before = await store.entries();
        try {
          await work();
        } finally {
          // Whatever the step wrote into the state dir is labgate's, and only that is removed by `lab down`.
          await store.adoptNewEntries(spec.name, provider.name, before);
        }
      },
      ran: (stepId) => snapshot().steps[stepId] !== undefined || owned(stepId).length > 0,
      owned: (stepId) => owned(stepId).map((r) => `${r.kind} ${r.id}`),
      // A read-only check changes nothing: a refused new lab leaves no state.
      recordReadOnlyFailure: async () => (await store.load()) !== undefined,
      nextAfterFailure: (stepId, wasBuilt) => nextAfterFailure(descriptions(all), stepId, wasBuilt),
      fill: (text) => fillStateDir(text, store.stateDir),
    },
  };
}

function toStepOutcome(o: PlanOutcome): StepOutcome {
  return {
    id: o.id,
    title: o.title,
    outcome: o.outcome as StepOutcomeKind,
    ...(o.detail ? { detail: o.detail } : {}),
  };
}

function descriptions(steps: LabStep[]): StepDescription[] {
  return steps.map((s) => s.description);
}

/** A state dir holding another lab's state is refused: its processes and records are not ours to touch. */
export function assertSameLab(
  state: LabState | undefined,
  spec: LabSpec,
  provider: LabProvider,
  stateDir: string,
): void {
  if (!state || (state.lab === spec.name && state.provider === provider.name)) return;
  throw new StateError(
    "STATE_DIR_OTHER_LAB",
    `The state dir ${stateDir} holds the state of lab "${state.lab}" (provider ${state.provider}), not of lab "${spec.name}" (provider ${provider.name}).`,
    {
      hint:
        `Give lab "${spec.name}" its own --state-dir (default .labgate/labs/${spec.name}); ` +
        `to act on lab "${state.lab}", run the command with its spec, or \`labgate lab down --state-dir ${stateDir}\` without --spec.`,
      details: { stateDir, lab: spec.name, otherLab: state.lab, otherProvider: state.provider },
    },
  );
}

/**
 * What to do after a failed apply, honestly: a step that was built and still fails after re-running will
 * fail the same way on the next \`lab up\`; a read-only check repeats itself, so the fix is to rebuild
 * what it checks.
 */
function nextAfterFailure(all: StepDescription[], stepId: string, wasBuilt: boolean): string {
  const step = all.find((s) => s.id === stepId) as StepDescription;
  if (step.readOnly) {
    const built = needsOf(all, step).filter((id) => !all.find((s) => s.id === id)?.readOnly);
    return (
      `This step only checks: \`labgate lab up\` repeats the same check. Repair what it checks first; ` +
      (built.length
        ? `if a built step drifted (e.g. a config edited by hand), rebuild it with \`labgate lab up --replace <step>\` (it checks: ${built.join(", ")}).`
        : "then run `labgate lab up` again.")
    );
  }
  if (wasBuilt)
    return (
      `The step was already built and running it again did not repair it, so a plain \`labgate lab up\` would fail the same way: ` +
      `run \`labgate lab up --replace ${step.id}\` to undo it and build it again.`
    );
  return `Then run \`labgate lab up\` again: it resumes at this step (if it keeps failing on a built lab, \`labgate lab up --replace ${step.id}\` rebuilds it).`;
}

async function forgetStep(
  store: LabStateStore,
  spec: LabSpec,
  provider: LabProvider,
  stepId: string,
): Promise<void> {
  await store.update(spec.name, provider.name, (state) => {
    delete state.steps[stepId];
    state.resources = state.resources.filter((r) => r.stepId !== stepId);
  });
}

async function mark(
  store: LabStateStore,
  spec: LabSpec,
  provider: LabProvider,
  stepId: string,
  record: Omit<StepRecord, "at">,
  done = false,
): Promise<void> {
  await store.update(spec.name, provider.name, (state) => {
    const now = new Date().toISOString();
    const previous = state.steps[stepId];
    // An already-done step keeps the time it was first completed.
    const doneAt = done
      ? previous?.status === "done" && previous.doneAt
        ? previous.doneAt
        : now
      : previous?.doneAt;
    state.steps[stepId] = { ...record, at: now, ...(doneAt ? { doneAt } : {}) };
    // The spec can carry a session or token (providerOptions): state.json keeps only its redacted form.
    state.spec = recordedSpec(spec);
  });
}

/** One `lab up`/`lab down` at a time per lab: a second one fails fast naming the holder. */
async function lockRun(stateDir: string): Promise<() => Promise<void>> {
  return acquireFileLock(join(stateDir, "run"), { timeoutMs: RUN_LOCK_TIMEOUT_MS });
}
