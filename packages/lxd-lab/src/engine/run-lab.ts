import { join } from "node:path";
import { acquireFileLock, InvalidInputError, StateError } from "@labgate/core";
import { LabInterruptedError, NotConfirmedError, type StepFailedError } from "../errors.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { recordedSpec } from "../spec/recorded-spec.js";
import { type Gate, type GateAction, wrap } from "./gate.js";
import { type LabState, LabStateStore, type StepRecord } from "./lab-state.js";
import { describeStep } from "./legacy-step.js";
import { planSteps, selectSteps, stepCommands } from "./plan-view.js";
import type { CheckResult, LabProvider, ResourceRecord, Step, StepContext } from "./step.js";
import { createStepContext } from "./step-context.js";
import { describeFailure, formatStepFailure, stepFailure } from "./step-failure.js";
import { dependentsOf, needsOf, unmetNeeds } from "./step-needs.js";

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
 * `lab up`: for each step, check (done → say so) → show → gate → apply → verify → record.
 * Resumes by construction: steps whose check says done are not run again.
 */
export async function labUp(options: LabRunOptions): Promise<LabRunResult> {
  const { provider, spec, gate } = options;
  const log = options.log ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const all = planSteps(provider, spec);
  const steps = selectSteps(all, options);
  checkReplace(all, steps, options.replace);
  const store = new LabStateStore(options.stateDir);
  const existing = await store.load();
  assertSameLab(existing, spec, provider, options.stateDir);
  const fresh = existing === undefined;
  const createdTop = await store.ensureDir();
  const release = await lockRun(options.stateDir);
  const outcomes: StepOutcome[] = [];
  const doneInRun = new Set<string>();
  const isDone = (id: string) =>
    doneInRun.has(id) || store.snapshot(spec.name, provider.name).steps[id]?.status === "done";
  try {
    const ctx = createStepContext(store, spec, provider, log, signal);
    for (const [i, step] of steps.entries()) {
      throwIfAborted(signal, step, "before it started");
      const label = `[${i + 1}/${steps.length}] ${step.id}`;
      const replacing = step.id === options.replace;
      let foundDone = false;
      if (!replacing) {
        const found = await checkStep(step, ctx, signal, log);
        if (found.done) {
          const stale = await verifyQuietly(step, ctx);
          if (stale === undefined) {
            log(`${label}: already done${found.detail ? `: ${found.detail}` : ""}`);
            // Only a step not yet recorded as done is written: a second `lab up` leaves the state file as it was.
            if (store.snapshot(spec.name, provider.name).steps[step.id]?.status !== "done") {
              await mark(
                store,
                spec,
                provider,
                step.id,
                { status: "done", ...(found.detail ? { detail: found.detail } : {}) },
                true,
              );
            }
            doneInRun.add(step.id);
            outcomes.push({
              id: step.id,
              title: step.title,
              outcome: "already-done",
              ...(found.detail ? { detail: found.detail } : {}),
            });
            continue;
          }
          foundDone = true;
          log(`${label}: found done but its verification failed (${stale}); running it again.`);
        }
      }
      const skippedNow = new Set(outcomes.filter((o) => o.outcome === "skipped").map((o) => o.id));
      const warnings = unmetNeeds(all, step, isDone).map((id) =>
        skippedNow.has(id)
          ? `needs ${id}, which you skipped in this run: it will probably fail`
          : `needs ${id}, which is not done (${store.snapshot(spec.name, provider.name).steps[id]?.status ?? "never run"}): it will probably fail; run it first (\`labgate lab up --step ${id}\`)`,
      );
      log(
        showStep(step, "apply", i + 1, steps.length, gate.confirmsAll === true, {
          replacing,
          warnings,
          neededBy: dependentsOf(all, step.id),
          known: ctx.resources(),
        }),
      );
      const decision = await gate.confirm(
        { step: describeStep(step, ctx.resources()), action: "apply", index: i + 1, total: steps.length },
        signal,
      );
      if (decision === "skip") {
        const later = dependentsOf(all, step.id);
        log(
          `${label}: skipped at your request (not recorded as done; the next \`lab up\` asks again).` +
            (later.length ? ` Warning: ${later.join(", ")} need it and will probably fail without it.` : ""),
        );
        outcomes.push({ id: step.id, title: step.title, outcome: "skipped" });
        continue;
      }
      if (decision !== "yes") throw stopped(decision, step, "labgate lab up");
      const failureNext = nextAfterFailure(all, step, foundDone || replacing);
      if (replacing) {
        log(`${label}: replacing: undoing it first.`);
        await runGuarded(store, spec, provider, step, "undo", signal, log, () => step.undo(ctx));
        await forgetStep(store, spec, provider, step.id);
      }
      await runGuarded(
        store,
        spec,
        provider,
        step,
        "apply",
        signal,
        log,
        async () => {
          await step.apply(ctx);
          await step.verify(ctx);
        },
        failureNext,
      );
      doneInRun.add(step.id);
      log(`${label}: ${replacing ? "undone, applied again" : "done"} and verified.`);
      outcomes.push({ id: step.id, title: step.title, outcome: replacing ? "replaced" : "applied" });
    }
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
 * `lab down`: undo in reverse order the steps that ran (recorded in the state, or owning resources), each
 * behind the gate; read-only checks are cleared without asking. When nothing is left, the files labgate
 * created go, and the state dir too when it was labgate's and is empty then.
 */
export async function labDown(options: LabRunOptions): Promise<LabRunResult> {
  const { provider, spec, gate } = options;
  const log = options.log ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const store = new LabStateStore(options.stateDir);
  const existing = await store.load();
  // Without state nothing ran here: nothing to undo, even for a spec whose plan() refuses its options.
  const all = existing ? planSteps(provider, spec) : [];
  const steps = selectSteps(all, { step: existing ? options.step : undefined }).reverse();
  assertSameLab(existing, spec, provider, options.stateDir);
  const release = existing ? await lockRun(options.stateDir) : async () => {};
  const outcomes: StepOutcome[] = [];
  let removed = false;
  let keptForeign: string[] = [];
  let released = false;
  try {
    const ctx = createStepContext(store, spec, provider, log, signal);
    for (const [i, step] of steps.entries()) {
      throwIfAborted(signal, step, "before it was undone");
      const label = `[${i + 1}/${steps.length}] ${step.id}`;
      const record = store.snapshot(spec.name, provider.name).steps[step.id];
      const owned = ctx.resources().filter((r) => r.stepId === step.id);
      // Only what ran is undone: a step with no record and no resources never touched anything here.
      if (!record && owned.length === 0) {
        log(`${label}: nothing to undo (it never ran here).`);
        outcomes.push({ id: step.id, title: step.title, outcome: "nothing-to-undo" });
        continue;
      }
      if (step.readOnly) {
        await runGuarded(store, spec, provider, step, "undo", signal, log, () => step.undo(ctx));
        await forgetStep(store, spec, provider, step.id);
        log(`${label}: a check, nothing to undo on the machine (its record is cleared).`);
        outcomes.push({
          id: step.id,
          title: step.title,
          outcome: "nothing-to-undo",
          detail: "read-only check; record cleared",
        });
        continue;
      }
      log(
        showStep(step, "undo", i + 1, steps.length, gate.confirmsAll === true, {
          owned: owned.map((r) => `${r.kind} ${r.id}`),
        }),
      );
      const decision = await gate.confirm(
        { step: describeStep(step, ctx.resources()), action: "undo", index: i + 1, total: steps.length },
        signal,
      );
      if (decision === "skip") {
        log(`${label}: left in place at your request.`);
        outcomes.push({ id: step.id, title: step.title, outcome: "skipped" });
        continue;
      }
      if (decision !== "yes") throw stopped(decision, step, "labgate lab down");
      await runGuarded(store, spec, provider, step, "undo", signal, log, () => step.undo(ctx));
      await forgetStep(store, spec, provider, step.id);
      log(`${label}: undone.`);
      outcomes.push({ id: step.id, title: step.title, outcome: "undone" });
    }
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

/** A state dir holding another lab's state is refused: its processes and records are not ours to touch. */
function assertSameLab(
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

/** --replace must name a step of this lab that is part of this run. */
function checkReplace(all: Step[], selected: Step[], replace: string | undefined): void {
  if (replace === undefined) return;
  if (!all.some((s) => s.id === replace)) {
    throw new InvalidInputError("UNKNOWN_STEP", `This lab has no step "${replace}" to replace.`, {
      hint: `Step ids: ${all.map((s) => s.id).join(", ")} (see \`labgate lab plan\`).`,
      details: { step: replace, known: all.map((s) => s.id) },
    });
  }
  if (!selected.some((s) => s.id === replace)) {
    throw new InvalidInputError(
      "STEP_SELECTION",
      `--replace ${replace} names a step outside this run (--step/--from leave it out).`,
      { hint: `Drop --step/--from, or use --step ${replace} --replace ${replace}.` },
    );
  }
}

/**
 * What to do after a failed apply, honestly: a step that was built and still fails after re-running will
 * fail the same way on the next \`lab up\`; a read-only check repeats itself, so the fix is to rebuild
 * what it checks.
 */
function nextAfterFailure(all: Step[], step: Step, wasBuilt: boolean): string {
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

/** Runs apply+verify (or undo), recording progress first and the failure or interruption after. */
async function runGuarded(
  store: LabStateStore,
  spec: LabSpec,
  provider: LabProvider,
  step: Step,
  action: GateAction,
  signal: AbortSignal,
  log: (message: string) => void,
  work: () => Promise<void>,
  next?: string,
): Promise<void> {
  // A read-only check changes nothing: there is no intent to record, and a refused new lab leaves no state.
  if (!step.readOnly)
    await mark(store, spec, provider, step.id, { status: action === "undo" ? "undoing" : "applying" });
  const before = await store.entries();
  try {
    await work();
  } catch (error) {
    if (signal.aborted) {
      await mark(store, spec, provider, step.id, { status: "interrupted" });
      throw new LabInterruptedError(
        `Interrupted during step "${step.id}" (${step.title}); the lab state is saved.`,
        `Run \`${action === "undo" ? "labgate lab down" : "labgate lab up"}\` to continue from this step.`,
        { stepId: step.id },
      );
    }
    const failure: StepFailedError = stepFailure(step, action, error, store.stateDir, next);
    if (!step.readOnly || (await store.load()) !== undefined)
      await mark(store, spec, provider, step.id, { status: "failed", error: describeFailure(error).message });
    log(formatStepFailure(failure));
    throw failure;
  } finally {
    // Whatever the step wrote into the state dir is labgate's, and only that is removed by `lab down`.
    await store.adoptNewEntries(spec.name, provider.name, before);
  }
  if (action === "apply") await mark(store, spec, provider, step.id, { status: "done" }, true);
}

/** A check that throws stops the run like a failed step (nothing is recorded: a check changes nothing). */
async function checkStep(
  step: Step,
  ctx: StepContext,
  signal: AbortSignal,
  log: (message: string) => void,
): Promise<CheckResult> {
  try {
    return await step.check(ctx);
  } catch (error) {
    throwIfAborted(signal, step, "while checking it");
    const failure = stepFailure(step, "check", error, ctx.stateDir);
    log(formatStepFailure(failure));
    throw failure;
  }
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

async function verifyQuietly(step: Step, ctx: StepContext): Promise<string | undefined> {
  try {
    await step.verify(ctx);
    return undefined;
  } catch (error) {
    return describeFailure(error).message;
  }
}

interface ShowExtras {
  /** undo: the resources the step owns. */
  owned?: string[];
  /** up: the step is replaced (undone, then applied). */
  replacing?: boolean;
  /** up: needs that are not met. */
  warnings?: string[];
  /** up: later steps that need this one (what skipping it affects). */
  neededBy?: string[];
  /** Recorded resources: the commands show the values already known (addresses, hashes). */
  known?: ResourceRecord[];
}

function showStep(
  step: Step,
  action: GateAction,
  index: number,
  total: number,
  confirmedByYes: boolean,
  extras: ShowExtras = {},
): string {
  const verb = action === "undo" ? "undo " : extras.replacing ? "replace " : "";
  const head = `── step ${index}/${total}: ${verb}${step.id} — ${step.title}`;
  const out = [head, ...wrap(step.why, 96).map((l) => `   ${l}`)];
  if (action === "undo" || extras.replacing) {
    const owned = extras.owned ?? [];
    if (extras.replacing) out.push("   first undone (what it created is removed), then applied again:");
    if (owned.length) out.push(`   removes: ${owned.join(", ")}`);
    if (step.undoCommands?.length) {
      out.push("   undo commands:");
      for (const c of step.undoCommands) out.push(`     $ ${c}`);
    } else if (!owned.length) out.push("   removes: whatever this step created (recorded in the lab state)");
  }
  if (action === "apply") {
    out.push("   commands:");
    for (const c of stepCommands(step, extras.known)) out.push(`     $ ${c}`);
    if (extras.neededBy?.length) out.push(`   needed by: ${extras.neededBy.join(", ")}`);
  }
  for (const w of extras.warnings ?? []) out.push(`   warning: ${w}`);
  if (confirmedByYes) out.push("   (confirmed by --yes)");
  return out.join("\n");
}

function stopped(decision: "no" | "quit", step: Step, resume: string): NotConfirmedError {
  return decision === "no"
    ? new NotConfirmedError(
        "DECLINED",
        `You declined step "${step.id}"; it was not run and the run stopped there.`,
        `Progress so far is saved. Run \`${resume}\` when you are ready to continue from this step.`,
        { stepId: step.id },
      )
    : new NotConfirmedError(
        "QUIT",
        `Quit at step "${step.id}".`,
        `Progress so far is saved; \`${resume}\` continues from here.`,
        {
          stepId: step.id,
        },
      );
}

function throwIfAborted(signal: AbortSignal, step: Step, when: string): void {
  if (!signal.aborted) return;
  throw new LabInterruptedError(
    `Interrupted at step "${step.id}" ${when}; the lab state is saved.`,
    "Run the same command again to continue from this step.",
    {
      stepId: step.id,
    },
  );
}

/** One `lab up`/`lab down` at a time per lab: a second one fails fast naming the holder. */
async function lockRun(stateDir: string): Promise<() => Promise<void>> {
  return acquireFileLock(join(stateDir, "run"), { timeoutMs: RUN_LOCK_TIMEOUT_MS });
}
