import type { Gate } from "../engine/gate.js";
import type { PlanOutcomeKind, PlanStore, StepCall } from "../engine/plan-step.js";
import { runPlan } from "../engine/run-plan.js";
import { LabInternalError } from "../errors.js";
import type { ImageStep } from "./image-build-steps.js";
import { readCachedImage } from "./image-cache.js";
import type { ImageContext } from "./image-context.js";
import { imageProgressStore, memoryPlanStore } from "./image-progress-store.js";

export type ImageStepOutcome = "already-done" | "applied" | "skipped" | "would-run" | "unknown";

export interface ImageBuildResult {
  alias: string;
  cacheEntry: string;
  fingerprint?: string;
  dryRun: boolean;
  changed: boolean;
  steps: {
    id: string;
    title: string;
    outcome: ImageStepOutcome;
    detail?: string;
    seconds?: number;
    commands: string[];
  }[];
  seconds: number;
  message: string;
}

export interface RunImageBuildOptions {
  ctx: ImageContext;
  steps: ImageStep[];
  gate: Gate;
  dryRun?: boolean;
  /** The command that continues the build, named when it stops (default `labgate image build`). */
  resume?: string;
  /** Where progress is kept; default: the cache entry's progress.json (in memory for a dry run). */
  store?: PlanStore;
}

const OUTCOMES: Partial<Record<PlanOutcomeKind, ImageStepOutcome>> = {
  "already-done": "already-done",
  applied: "applied",
  replaced: "applied",
  skipped: "skipped",
  "would-run": "would-run",
  unknown: "unknown",
};

/**
 * `labgate image build` on the one runner: each step checked (done → skipped), shown, confirmed at
 * the gate, applied and verified, progress in the cache entry. `dryRun` only checks and writes nothing.
 */
export async function runImageBuild(run: RunImageBuildOptions): Promise<ImageBuildResult> {
  const { ctx, dryRun = false } = run;
  const o = ctx.options;
  const started = Date.now();
  const seconds = new Map<string, number>();
  const result = await runPlan(run.steps.map(timed(seconds)).map(heldToItsPlan), {
    ctx,
    store: run.store ?? (dryRun ? memoryPlanStore() : await imageProgressStore(o)),
    gate: run.gate,
    mode: dryRun ? "dry-run" : "apply",
    log: ctx.log,
    signal: ctx.signal,
    resume: run.resume ?? "labgate image build",
    noun: "image build",
    planCommand: `${run.resume ?? "labgate image build"} --dry-run`,
  });
  const steps = result.steps.map((s) => ({
    id: s.id,
    title: s.title,
    outcome: OUTCOMES[s.outcome] ?? "unknown",
    ...(s.detail ? { detail: s.detail } : {}),
    ...(s.outcome === "applied" && seconds.has(s.id) ? { seconds: seconds.get(s.id) } : {}),
    commands: s.calls.map((c) => c.display),
  }));
  const info = await readCachedImage(o);
  const applied = steps.filter((s) => s.outcome === "applied").length;
  const total = Math.round((Date.now() - started) / 100) / 10;
  const message = dryRun
    ? `dry run: ${steps.filter((s) => s.outcome === "would-run").length} step(s) would run, nothing changed`
    : applied === 0
      ? `nothing to do: image ${o.alias} is built, cached and imported`
      : `image ${o.alias} ready (${applied} step(s) run in ${total} s; cache ${o.entryDir})`;
  return {
    alias: o.alias,
    cacheEntry: o.entryDir,
    ...(info ? { fingerprint: info.fingerprint } : {}),
    dryRun,
    changed: result.changed,
    steps,
    seconds: total,
    message,
  };
}

/**
 * The step given a context that refuses any call its description does not list (`calls` for check,
 * apply and verify, `undoCalls` for undo): what the gate showed is all a step can run.
 */
function heldToItsPlan(step: ImageStep): ImageStep {
  const d = step.description;
  const scoped = (ctx: ImageContext, planned: StepCall[]): ImageContext => {
    const held = (call: StepCall) => {
      if (!planned.includes(call))
        throw new LabInternalError(
          `Image step "${d.id}" tried a call its plan does not show: ${call.display}`,
          { step: d.id, call: call.display, planned: planned.map((c) => c.display) },
        );
    };
    return {
      ...ctx,
      exec(call) {
        held(call);
        return ctx.exec(call);
      },
      perform(call, action) {
        held(call);
        return ctx.perform(call, action);
      },
    };
  };
  const a = step.actions;
  return {
    ...step,
    actions: {
      check: (ctx) => a.check(scoped(ctx, d.calls)),
      apply: (ctx, found) => a.apply(scoped(ctx, d.calls), found),
      verify: (ctx) => a.verify(scoped(ctx, d.calls)),
      undo: (ctx) => a.undo(scoped(ctx, d.undoCalls ?? [])),
    },
  };
}

/** The step with its apply timed (the result shows how long each step took). */
function timed(seconds: Map<string, number>) {
  return (step: ImageStep): ImageStep => ({
    ...step,
    actions: {
      ...step.actions,
      async apply(ctx, found) {
        const t0 = Date.now();
        await step.actions.apply(ctx, found);
        seconds.set(step.description.id, Math.round((Date.now() - t0) / 100) / 10);
      },
    },
  });
}
