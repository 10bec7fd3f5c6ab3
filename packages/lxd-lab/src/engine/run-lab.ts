import { join } from "node:path";
import { acquireFileLock, redactValue } from "@labgate/core";
import { LabInterruptedError, NotConfirmedError, type StepFailedError } from "../errors.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { type Gate, type GateAction, wrap } from "./gate.js";
import { LabStateStore, type StepRecord } from "./lab-state.js";
import { planSteps, selectSteps } from "./plan-view.js";
import type { CheckResult, LabProvider, Step, StepContext } from "./step.js";
import { createStepContext } from "./step-context.js";
import { describeFailure, formatStepFailure, stepFailure } from "./step-failure.js";

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
}

export type StepOutcomeKind = "already-done" | "applied" | "skipped" | "undone" | "nothing-to-undo";

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
  const steps = selectSteps(planSteps(provider, spec), options);
  const store = new LabStateStore(options.stateDir);
  const fresh = (await store.load()) === undefined;
  const createdTop = await store.ensureDir();
  const release = await lockRun(options.stateDir);
  const outcomes: StepOutcome[] = [];
  try {
    const ctx = createStepContext(store, spec, provider, log, signal);
    for (const [i, step] of steps.entries()) {
      throwIfAborted(signal, step, "before it started");
      const label = `[${i + 1}/${steps.length}] ${step.id}`;
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
          outcomes.push({
            id: step.id,
            title: step.title,
            outcome: "already-done",
            ...(found.detail ? { detail: found.detail } : {}),
          });
          continue;
        }
        log(`${label}: found done but its verification failed (${stale}); running it again.`);
      }
      log(showStep(step, "apply", i + 1, steps.length, gate.confirmsAll === true));
      const decision = await gate.confirm(
        { step, action: "apply", index: i + 1, total: steps.length },
        signal,
      );
      if (decision === "skip") {
        log(`${label}: skipped at your request (not recorded as done; the next \`lab up\` asks again).`);
        outcomes.push({ id: step.id, title: step.title, outcome: "skipped" });
        continue;
      }
      if (decision !== "yes") throw stopped(decision, step, "labgate lab up");
      await runGuarded(store, spec, provider, step, "apply", signal, log, async () => {
        await step.apply(ctx);
        await step.verify(ctx);
      });
      log(`${label}: done and verified.`);
      outcomes.push({ id: step.id, title: step.title, outcome: "applied" });
    }
  } finally {
    await release();
    // A run refused or stopped before it recorded anything leaves none of the dirs it made behind.
    if (fresh && (await store.load().catch(() => "unreadable")) === undefined)
      await store.removeCreatedDirs(createdTop);
  }
  const applied = outcomes.filter((o) => o.outcome === "applied").length;
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
 * `lab down`: undo in reverse order, each step behind the gate. A step with no record, no resources
 * and nothing live is passed over. When nothing is left, the state dir itself is removed.
 */
export async function labDown(options: LabRunOptions): Promise<LabRunResult> {
  const { provider, spec, gate } = options;
  const log = options.log ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const all = planSteps(provider, spec);
  const steps = selectSteps(all, { step: options.step }).reverse();
  const store = new LabStateStore(options.stateDir);
  const existing = await store.load();
  if (existing) await store.ensureDir();
  const release = existing ? await lockRun(options.stateDir) : async () => {};
  const outcomes: StepOutcome[] = [];
  let removed = false;
  try {
    const ctx = createStepContext(store, spec, provider, log, signal);
    for (const [i, step] of steps.entries()) {
      throwIfAborted(signal, step, "before it was undone");
      const label = `[${i + 1}/${steps.length}] ${step.id}`;
      const record = store.snapshot(spec.name, provider.name).steps[step.id];
      const owned = ctx.resources().filter((r) => r.stepId === step.id);
      const live = record || owned.length ? undefined : await step.check(ctx).catch(() => ({ done: true }));
      if (!record && owned.length === 0 && live && !live.done) {
        log(`${label}: nothing to undo.`);
        outcomes.push({ id: step.id, title: step.title, outcome: "nothing-to-undo" });
        continue;
      }
      log(
        showStep(
          step,
          "undo",
          i + 1,
          steps.length,
          gate.confirmsAll === true,
          owned.map((r) => `${r.kind} ${r.id}`),
        ),
      );
      const decision = await gate.confirm(
        { step, action: "undo", index: i + 1, total: steps.length },
        signal,
      );
      if (decision === "skip") {
        log(`${label}: left in place at your request.`);
        outcomes.push({ id: step.id, title: step.title, outcome: "skipped" });
        continue;
      }
      if (decision !== "yes") throw stopped(decision, step, "labgate lab down");
      await runGuarded(store, spec, provider, step, "undo", signal, log, () => step.undo(ctx));
      await store.update(spec.name, provider.name, (state) => {
        delete state.steps[step.id];
        state.resources = state.resources.filter((r) => r.stepId !== step.id);
      });
      log(`${label}: undone.`);
      outcomes.push({ id: step.id, title: step.title, outcome: "undone" });
    }
    const state = store.snapshot(spec.name, provider.name);
    const everythingGone =
      outcomes.every((o) => o.outcome !== "skipped") &&
      state.resources.length === 0 &&
      Object.keys(state.steps).length === 0;
    if (everythingGone && options.step === undefined) {
      await release();
      await store.removeAll();
      removed = true;
    }
  } finally {
    if (!removed) await release();
  }
  const undone = outcomes.filter((o) => o.outcome === "undone").length;
  const skipped = outcomes.filter((o) => o.outcome === "skipped").length;
  const left = store.snapshot(spec.name, provider.name).resources;
  let message: string;
  if (removed && undone === 0) message = `nothing to undo: lab "${spec.name}" has nothing left here`;
  else if (removed)
    message = `lab "${spec.name}" is down: ${undone} step(s) undone, state dir ${options.stateDir} removed`;
  else
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
    complete: removed,
    stateRemoved: removed,
    message,
  };
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
): Promise<void> {
  await mark(store, spec, provider, step.id, { status: action === "undo" ? "undoing" : "applying" });
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
    const failure: StepFailedError = stepFailure(step, action, error, store.stateDir);
    await mark(store, spec, provider, step.id, { status: "failed", error: describeFailure(error).message });
    log(formatStepFailure(failure));
    throw failure;
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
    state.spec = redactValue(spec);
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

function showStep(
  step: Step,
  action: GateAction,
  index: number,
  total: number,
  confirmedByYes: boolean,
  owned: string[] = [],
): string {
  const head = `── step ${index}/${total}: ${action === "undo" ? "undo " : ""}${step.id} — ${step.title}`;
  const out = [head, ...wrap(step.why, 96).map((l) => `   ${l}`)];
  if (action === "apply") {
    out.push("   commands:");
    for (const c of step.commands) out.push(`     $ ${c}`);
  } else {
    out.push(`   removes: ${owned.length ? owned.join(", ") : "whatever this step created"}`);
  }
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
