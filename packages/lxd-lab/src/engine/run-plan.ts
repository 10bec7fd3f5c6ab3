import { InvalidInputError, LabgateError } from "@labgate/core";
import { wrapText } from "@labgate/core/text";
import { LabInterruptedError, NotConfirmedError } from "../errors.js";
import type { GateAction } from "./gate.js";
import type {
  Found,
  PlanOutcome,
  PlanOutcomeKind,
  PlanStep,
  RunPlanOptions,
  RunPlanResult,
  StepCall,
  StepDescription,
} from "./plan-step.js";
import { selectSteps } from "./plan-view.js";
import { describeFailure, formatStepFailure, stepFailure } from "./step-failure.js";
import { dependentsOf, unmetNeeds } from "./step-needs.js";

/**
 * The one loop labs, image builds and deployments run on.
 * apply: check (done → verify quietly → recorded) → show → gate → mark applying → apply(found) → verify → mark done.
 * undo: reverse order, only what ran, gate → mark undoing → undo → forget. dry-run: check only (or, of undo,
 * only the records), nothing marked; each step as apply would show it (`current`).
 */
export async function runPlan<C>(steps: PlanStep<C>[], o: RunPlanOptions<C>): Promise<RunPlanResult> {
  assertUniqueIds(steps);
  const run = new PlanRun(steps, o);
  if (o.mode === "dry-run") return o.dryRunOf === "undo" ? run.undoDryRun() : run.dryRun();
  if (o.mode === "undo") return run.undo();
  return run.apply();
}

class PlanRun<C> {
  private readonly all: StepDescription[];
  private readonly log: (message: string) => void;
  private readonly signal: AbortSignal;
  private readonly outcomes: PlanOutcome[] = [];
  private readonly doneInRun = new Set<string>();

  constructor(
    private readonly steps: PlanStep<C>[],
    private readonly o: RunPlanOptions<C>,
  ) {
    this.all = steps.map((s) => s.description);
    this.log = o.log ?? (() => {});
    this.signal = o.signal ?? new AbortController().signal;
  }

  private select(selection: { step?: string | undefined; from?: string | undefined }): PlanStep<C>[] {
    const byId = new Map(this.steps.map((s) => [s.description.id, s]));
    const picked = selectSteps(
      this.all,
      selection,
      this.o.noun ?? "plan",
      this.o.planCommand ?? this.o.resume,
    );
    return picked.map((d) => byId.get(d.id) as PlanStep<C>);
  }

  async dryRun(): Promise<RunPlanResult> {
    for (const step of this.select(this.o)) {
      let found: Found<unknown> | undefined;
      let failed: unknown;
      try {
        found = await step.actions.check(this.o.ctx);
      } catch (error) {
        failed = error;
      }
      // As apply would show it: with what the check found (a call that depends on it).
      const d = step.current?.(this.o.ctx, found) ?? step.description;
      if (found) this.push(d, found.done ? "already-done" : "would-run", found.detail);
      else this.push(d, "unknown", `check failed: ${describeFailure(failed).message}`);
    }
    return this.result(false);
  }

  /** What `undo` would do, from the records alone: nothing is checked, run, marked or asked. */
  async undoDryRun(): Promise<RunPlanResult> {
    const { o } = this;
    for (const step of this.select({ step: o.step }).reverse()) {
      const d = step.current?.(o.ctx) ?? step.description;
      if (!this.ran(d.id)) this.push(d, "nothing-to-undo", "it never ran here");
      else if (d.readOnly) this.push(d, "nothing-to-undo", "read-only check; its record would be cleared");
      else {
        const owned = o.hooks?.owned?.(d.id) ?? [];
        this.push(d, "would-undo", owned.length ? `removes ${owned.join(", ")}` : undefined);
      }
    }
    return this.result(false);
  }

  async apply(): Promise<RunPlanResult> {
    const { o } = this;
    const selected = this.select(o);
    checkReplace(
      this.all,
      selected.map((s) => s.description),
      o.replace,
      o.noun ?? "plan",
      o.planCommand,
    );
    for (const [i, step] of selected.entries()) {
      const d = step.description;
      this.throwIfAborted(d, "before it started");
      const label = `[${i + 1}/${selected.length}] ${d.id}`;
      const replacing = d.id === o.replace;
      let found: Found<unknown> | undefined;
      let foundDone = false;
      if (!replacing) {
        found = await this.check(step);
        if (found.done) {
          const stale = await this.verifyQuietly(step);
          if (stale === undefined) {
            this.log(`${label}: already done${found.detail ? `: ${found.detail}` : ""}`);
            // Only a step not yet recorded as done is written: a second run leaves the store as it was.
            if (o.store.status(d.id)?.status !== "done")
              await o.store.mark(d.id, { status: "done", ...(found.detail ? { detail: found.detail } : {}) });
            this.doneInRun.add(d.id);
            this.push(d, "already-done", found.detail);
            continue;
          }
          foundDone = true;
          this.log(`${label}: found done but its verification failed (${stale}); running it again.`);
        }
      }
      const shown = step.current?.(o.ctx, found) ?? d;
      this.log(
        showDescription(shown, "apply", i + 1, selected.length, o.gate.confirmsAll === true, {
          replacing,
          warnings: this.needWarnings(d),
          neededBy: dependentsOf(this.all, d.id),
          ...(o.callsShown ? { callsShown: o.callsShown } : {}),
        }),
      );
      const decision = await o.gate.confirm(
        { step: shown, action: "apply", index: i + 1, total: selected.length },
        this.signal,
      );
      if (decision === "skip") {
        const later = dependentsOf(this.all, d.id);
        this.log(
          `${label}: skipped at your request (not recorded as done; the next \`${o.resume}\` asks again).` +
            (later.length ? ` Warning: ${later.join(", ")} need it and will probably fail without it.` : ""),
        );
        this.push(d, "skipped");
        continue;
      }
      if (decision !== "yes") throw stopped(decision, d, o.resume);
      const next = o.hooks?.nextAfterFailure?.(d.id, foundDone || replacing);
      if (replacing) {
        this.log(`${label}: replacing: undoing it first.`);
        await this.guarded(step, "undo", () => step.actions.undo(o.ctx));
        await o.store.forget(d.id);
        found = await this.check(step);
      }
      const facts = found as Found<unknown>;
      await this.guarded(
        step,
        "apply",
        async () => {
          await step.actions.apply(o.ctx, facts);
          await step.actions.verify(o.ctx);
        },
        next,
      );
      this.doneInRun.add(d.id);
      this.log(`${label}: ${replacing ? "undone, applied again" : "done"} and verified.`);
      this.push(d, replacing ? "replaced" : "applied");
    }
    return this.result(!this.outcomes.some((x) => x.outcome === "skipped"));
  }

  async undo(): Promise<RunPlanResult> {
    const { o } = this;
    const selected = this.select({ step: o.step }).reverse();
    for (const [i, step] of selected.entries()) {
      const d = step.description;
      this.throwIfAborted(d, "before it was undone");
      const label = `[${i + 1}/${selected.length}] ${d.id}`;
      // Only what ran is undone: a step with no record never touched anything here.
      if (!this.ran(d.id)) {
        this.log(`${label}: nothing to undo (it never ran here).`);
        this.push(d, "nothing-to-undo");
        continue;
      }
      if (d.readOnly) {
        await this.guarded(step, "undo", () => step.actions.undo(o.ctx));
        await o.store.forget(d.id);
        this.log(`${label}: a check, nothing to undo on the machine (its record is cleared).`);
        this.push(d, "nothing-to-undo", "read-only check; record cleared");
        continue;
      }
      const shown = step.current?.(o.ctx) ?? d;
      this.log(
        showDescription(shown, "undo", i + 1, selected.length, o.gate.confirmsAll === true, {
          owned: o.hooks?.owned?.(d.id) ?? [],
        }),
      );
      const decision = await o.gate.confirm(
        { step: shown, action: "undo", index: i + 1, total: selected.length },
        this.signal,
      );
      if (decision === "skip") {
        this.log(`${label}: left in place at your request.`);
        this.push(d, "skipped");
        continue;
      }
      if (decision !== "yes") throw stopped(decision, d, o.resume);
      await this.guarded(step, "undo", () => step.actions.undo(o.ctx));
      await o.store.forget(d.id);
      this.log(`${label}: undone.`);
      this.push(d, "undone");
    }
    return this.result(!this.outcomes.some((x) => x.outcome === "skipped"));
  }

  /** Did this step run here (a record, or what the caller's hook knows of)? Only what ran is undone. */
  private ran(id: string): boolean {
    return this.o.hooks?.ran?.(id) ?? this.o.store.status(id) !== undefined;
  }

  /** A check that throws stops the run like a failed step (nothing is recorded: a check changes nothing). */
  private async check(step: PlanStep<C>): Promise<Found<unknown>> {
    try {
      return await step.actions.check(this.o.ctx);
    } catch (error) {
      this.throwIfAborted(step.description, "while checking it");
      const failure = stepFailure(
        failing(step.description, this.o.hooks?.fill),
        "check",
        error,
        undefined,
        this.resumeHint(),
      );
      this.log(formatStepFailure(failure));
      throw failure;
    }
  }

  private async verifyQuietly(step: PlanStep<C>): Promise<string | undefined> {
    try {
      await step.actions.verify(this.o.ctx);
      return undefined;
    } catch (error) {
      return describeFailure(error).message;
    }
  }

  /** Runs apply+verify (or undo), recording the intent first and the failure or interruption after. */
  private async guarded(
    step: PlanStep<C>,
    action: GateAction,
    work: () => Promise<void>,
    next?: string,
  ): Promise<void> {
    const { store, hooks } = this.o;
    const d = step.description;
    // A read-only check changes nothing: there is no intent to record.
    if (!d.readOnly) await store.mark(d.id, { status: action === "undo" ? "undoing" : "applying" });
    try {
      await (hooks?.around ? hooks.around(d.id, action, work) : work());
    } catch (error) {
      if (this.signal.aborted) {
        await store.mark(d.id, { status: "interrupted" });
        throw new LabInterruptedError(
          `Interrupted during step "${d.id}" (${d.title}); the progress is saved in ${store.location}.`,
          `Run \`${this.o.resume}\` to continue from this step.`,
          { stepId: d.id },
        );
      }
      const failure = stepFailure(
        failing(d, hooks?.fill),
        action,
        error,
        undefined,
        next ?? this.resumeHint(),
      );
      if (!d.readOnly || ((await hooks?.recordReadOnlyFailure?.()) ?? true))
        await store.mark(d.id, { status: "failed", error: describeFailure(error).message });
      this.log(formatStepFailure(failure));
      throw failure;
    }
    if (action === "apply") await store.mark(d.id, { status: "done" });
  }

  private needWarnings(d: StepDescription): string[] {
    const isDone = (id: string) => this.doneInRun.has(id) || this.o.store.status(id)?.status === "done";
    const skipped = new Set(this.outcomes.filter((x) => x.outcome === "skipped").map((x) => x.id));
    return unmetNeeds(this.all, d, isDone).map((id) =>
      skipped.has(id)
        ? `needs ${id}, which you skipped in this run: it will probably fail`
        : `needs ${id}, which is not done (${this.o.store.status(id)?.status ?? "never run"}): it will probably fail; run it first (\`${this.o.resume} --step ${id}\`)`,
    );
  }

  private resumeHint(): string {
    return `Then run \`${this.o.resume}\` again: it resumes at this step.`;
  }

  private throwIfAborted(d: StepDescription, when: string): void {
    if (!this.signal.aborted) return;
    throw new LabInterruptedError(
      `Interrupted at step "${d.id}" ${when}; the progress is saved in ${this.o.store.location}.`,
      `Run \`${this.o.resume}\` to continue from this step.`,
      { stepId: d.id },
    );
  }

  private push(d: StepDescription, outcome: PlanOutcomeKind, detail?: string): void {
    this.outcomes.push({
      id: d.id,
      title: d.title,
      outcome,
      ...(detail ? { detail } : {}),
      calls: outcome === "undone" || outcome === "would-undo" ? (d.undoCalls ?? []) : d.calls,
    });
  }

  private result(complete: boolean): RunPlanResult {
    const changed = this.outcomes.some((x) => ["applied", "replaced", "undone"].includes(x.outcome));
    return {
      mode: this.o.mode,
      steps: this.outcomes,
      changed,
      complete: this.o.mode === "dry-run" ? false : complete,
    };
  }
}

function failing(d: StepDescription, fill: (text: string) => string = (t) => t) {
  return {
    id: d.id,
    title: d.title,
    commands: d.calls.map((c) => fill(c.display)),
    diagnostics: d.diagnostics?.map(fill),
  };
}

function assertUniqueIds<C>(steps: PlanStep<C>[]): void {
  const seen = new Set<string>();
  for (const { description: d } of steps) {
    if (seen.has(d.id))
      throw new LabgateError("PLAN_INVALID", `The plan has two steps with the id "${d.id}".`, {
        hint: "This is a bug in whatever built the plan; step ids must be unique.",
      });
    seen.add(d.id);
  }
}

/**
 * --replace must name a step of this plan that is part of this run. Callers that refuse before they touch
 * anything (a lab, before its state dir exists) call it first; runPlan checks again.
 */
export function checkReplace(
  all: StepDescription[],
  selected: StepDescription[],
  replace: string | undefined,
  noun: string,
  planCommand?: string,
): void {
  if (replace === undefined) return;
  if (!all.some((s) => s.id === replace))
    throw new InvalidInputError("UNKNOWN_STEP", `This ${noun} has no step "${replace}" to replace.`, {
      hint: `Step ids: ${all.map((s) => s.id).join(", ")}${planCommand ? ` (see \`${planCommand}\`)` : ""}.`,
      details: { step: replace, known: all.map((s) => s.id) },
    });
  if (!selected.some((s) => s.id === replace))
    throw new InvalidInputError(
      "STEP_SELECTION",
      `--replace ${replace} names a step outside this run (--step/--from leave it out).`,
      { hint: `Drop --step/--from, or use --step ${replace} --replace ${replace}.` },
    );
}

function stopped(decision: "no" | "quit", d: StepDescription, resume: string): NotConfirmedError {
  return decision === "no"
    ? new NotConfirmedError(
        "DECLINED",
        `You declined step "${d.id}"; it was not run and the run stopped there.`,
        `Progress so far is saved. Run \`${resume}\` when you are ready to continue from this step.`,
        { stepId: d.id },
      )
    : new NotConfirmedError(
        "QUIT",
        `Quit at step "${d.id}".`,
        `Progress so far is saved; \`${resume}\` continues from here.`,
        {
          stepId: d.id,
        },
      );
}

interface ShowExtras {
  /** undo: the resources the step owns. */
  owned?: string[];
  /** apply: the step is replaced (undone, then applied). */
  replacing?: boolean;
  /** apply: needs that are not met. */
  warnings?: string[];
  /** apply: later steps that need this one (what skipping it affects). */
  neededBy?: string[];
  /** apply: the calls printed above the run (deploy's plan); counted, not repeated. */
  callsShown?: (call: StepCall) => boolean;
}

/** What is printed before the gate: the step, why, the exact calls, and what it affects. */
export function showDescription(
  d: StepDescription,
  action: GateAction,
  index: number,
  total: number,
  confirmedByYes: boolean,
  extras: ShowExtras = {},
): string {
  const verb = action === "undo" ? "undo " : extras.replacing ? "replace " : "";
  const out = [
    `── step ${index}/${total}: ${verb}${d.id} — ${d.title}`,
    ...wrapText(d.why, 96).map((l) => `   ${l}`),
  ];
  if (action === "undo" || extras.replacing) {
    const owned = extras.owned ?? [];
    if (extras.replacing) out.push("   first undone (what it created is removed), then applied again:");
    if (owned.length) out.push(`   removes: ${owned.join(", ")}`);
    if (d.undoCalls?.length) {
      out.push("   undo commands:");
      for (const c of d.undoCalls) out.push(`     $ ${c.display}`);
    } else if (!owned.length) out.push("   removes: whatever this step created (recorded with its progress)");
  }
  if (action === "apply") {
    const shown = extras.callsShown ?? (() => false);
    const above = d.calls.filter(shown).length;
    const listed = d.calls.filter((c) => !shown(c));
    if (above === 0) out.push("   commands:");
    else out.push(`   commands: ${above} listed in the plan above${listed.length ? ", and:" : ""}`);
    for (const c of listed) out.push(`     $ ${c.display}`);
    if (extras.neededBy?.length) out.push(`   needed by: ${extras.neededBy.join(", ")}`);
  }
  for (const w of extras.warnings ?? []) out.push(`   warning: ${w}`);
  if (confirmedByYes) out.push("   (confirmed by --yes)");
  return out.join("\n");
}
