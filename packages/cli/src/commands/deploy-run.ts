import { ExitCode, isLabgateError, PreconditionError, readDeployRecord, StateError } from "@labgate/core";
import {
  type DeployContext,
  type DeployPlanStore,
  openDeployPlanStore,
  type PlanStep,
  planDeploymentSteps,
  type RunPlanResult,
  removeDeployProgress,
  runPlan,
  StepFailedError,
  stepCall,
  WAIT_RUNNING_STEP,
} from "@labgate/lxd-lab";
import type { Output } from "../output.js";
import { type DeployStepView, formatPlan, formatSteps, networkLines } from "./deploy-format.js";
import { deployGate } from "./deploy-gate.js";
import { withInterrupt } from "./lab-context.js";

export interface DeployRunIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Aborts the run (Ctrl-C); when absent, the command listens for SIGINT itself. */
  signal?: AbortSignal;
}

export interface DeployRun {
  out: Output;
  ctx: DeployContext;
  io: DeployRunIo;
  yes?: boolean | undefined;
  dryRun?: boolean | undefined;
  step?: string | undefined;
  /** `labgate deploy <action> ...` as the user would type it again (named when a run stops). */
  command: (action: "apply" | "destroy") => string;
}

/**
 * `deploy apply` on the runner: reserve-address → create-node → wait-running. A run that stopped
 * (failure, Ctrl-C, kill) resumes at the next apply: steps already done are checked, not redone.
 */
export async function applyDeployment(run: DeployRun): Promise<number> {
  const { out, ctx } = run;
  const store = await openDeployPlanStore(ctx.statePath);
  const { plan, steps } = await planDeploymentSteps(ctx);
  if (run.dryRun) return dryRunApply(run, store, steps, plan);
  assertNotDeployed(run, store);
  out.info(formatPlan(plan));
  const planned = new Set(plan.calls.map((c) => stepCall(c).display));
  const gate = deployGate(
    () =>
      `Deploy ${ctx.spec.name} on ${ctx.platform} with these ${plan.calls.length} calls (steps: ${steps.map((s) => s.description.id).join(", ")})?`,
    run.yes,
    run.io,
  );
  const result = await withInterrupt(
    { ...run.io, cwd: process.cwd() },
    async (signal) => {
      const c = { ...ctx, signal };
      try {
        return await runPlan(steps, {
          ctx: c,
          store,
          gate,
          mode: "apply",
          log: (m) => out.info(m),
          signal,
          step: run.step,
          resume: run.command("apply"),
          noun: "deployment",
          // The plan above lists every platform call with its why; the steps do not repeat them.
          callsShown: (call) => planned.has(call.display),
        });
      } catch (error) {
        if (error instanceof StepFailedError) await afterFailure(run, c, store, steps, error);
        throw unwrap(error);
      }
    },
    `run \`${run.command("apply")}\` to resume`,
  );
  const record = await readDeployRecord(ctx.statePath);
  if (run.step !== undefined || !record || record.status === "creating") {
    out.result({ platform: ctx.platform, steps: result.steps, record: ctx.statePath }, () =>
      outcomeLines(result),
    );
    return ExitCode.OK;
  }
  const info = ctx.report.info ?? (await ctx.adapter.get(record.ref));
  out.result(
    {
      platform: ctx.platform,
      ref: record.ref,
      network: record.network,
      state: info?.state ?? "unknown",
      addresses: info?.addresses ?? [],
      record: ctx.statePath,
      steps: result.steps,
    },
    (r) =>
      [
        `${ctx.spec.name} is ${r.state} on ${ctx.platform} (id ${r.ref.id})`,
        ...networkLines(r.network),
        `record: ${r.record}`,
      ].join("\n"),
  );
  return ExitCode.OK;
}

/** `deploy destroy`: the undo of apply's steps, in reverse, of what ran (by its progress or its record). */
export async function destroyDeployment(run: DeployRun): Promise<number> {
  const { out, ctx } = run;
  const store = await openDeployPlanStore(ctx.statePath);
  const { steps } = await planDeploymentSteps(ctx, store.record?.network);
  const ran = steps.filter((s) => store.status(s.description.id) !== undefined).reverse();
  if (!store.record && ran.length === 0) {
    // Exit 4 (as the README says): what destroy needs, the record, is missing; nothing is broken.
    throw new PreconditionError(
      "DEPLOY_NOT_FOUND",
      `No deploy record for ${ctx.spec.name} on ${ctx.platform} (${ctx.statePath}).`,
      {
        hint: "Only VMs created with `labgate deploy apply` can be destroyed here; check --state-dir and --platform.",
      },
    );
  }
  if (run.dryRun) return dryRunDestroy(run, store, steps);
  out.info(
    `Will undo ${ran.map((s) => s.description.id).join(", ") || "nothing"} of ${ctx.spec.name} on ${ctx.platform}.`,
  );
  const gate = deployGate(() => `Destroy ${ctx.spec.name} on ${ctx.platform}?`, run.yes, run.io);
  const result = await withInterrupt(
    { ...run.io, cwd: process.cwd() },
    async (signal) => {
      try {
        return await runPlan(steps, {
          ctx: { ...ctx, signal },
          store,
          gate,
          mode: "undo",
          log: (m) => out.info(m),
          signal,
          step: run.step,
          resume: run.command("destroy"),
          noun: "deployment",
        });
      } catch (error) {
        throw unwrap(error);
      }
    },
    `run \`${run.command("destroy")}\` to finish`,
  );
  if (run.step === undefined && result.complete) await removeDeployProgress(ctx.statePath);
  const destroyed = ctx.report.destroyed[0] ?? store.record?.ref;
  out.result(
    {
      platform: ctx.platform,
      destroyed: destroyed ?? null,
      released: ctx.report.released,
      steps: result.steps,
    },
    (r) =>
      `destroyed ${r.destroyed ? `${r.destroyed.name} (${r.destroyed.id})` : "nothing on the platform"}${r.released.length ? `, released ${r.released.join(", ")}` : ""}`,
  );
  return ExitCode.OK;
}

/** destroy --dry-run: runPlan's dry run of undo, over the steps that ran here (their progress); nothing changes. */
async function dryRunDestroy(
  run: DeployRun,
  store: DeployPlanStore,
  steps: PlanStep<DeployContext>[],
): Promise<number> {
  const { out, ctx } = run;
  const result = await dryRunPlan(run, store, steps, "destroy");
  const view = stepViews(steps, result).filter((s) => store.status(s.id) !== undefined);
  out.result({ platform: ctx.platform, mode: "dry-run", action: "destroy", steps: view }, () =>
    formatSteps(view, "destroy"),
  );
  return ExitCode.OK;
}

/** runPlan's dry run (nothing is written or created) of apply, or of undo for destroy; no gate is asked. */
function dryRunPlan(
  run: DeployRun,
  store: DeployPlanStore,
  steps: PlanStep<DeployContext>[],
  action: "apply" | "destroy",
): Promise<RunPlanResult> {
  return runPlan(steps, {
    ctx: run.ctx,
    store,
    gate: deployGate(() => "", true, run.io),
    mode: "dry-run",
    ...(action === "destroy" ? { dryRunOf: "undo" as const } : {}),
    log: (m) => run.out.verbose(m),
    step: run.step,
    resume: run.command(action),
    noun: "deployment",
  });
}

/** Each outcome with its step's description; the calls are the ones the runner reported (apply's, or undo's). */
function stepViews(steps: PlanStep<DeployContext>[], result: RunPlanResult): DeployStepView[] {
  const byId = new Map(steps.map((s) => [s.description.id, s.description]));
  return result.steps.flatMap((o) => {
    const d = byId.get(o.id);
    if (!d) return [];
    const calls = o.outcome === "would-undo" ? { undoCalls: o.calls } : { calls: o.calls };
    return [{ ...d, ...calls, outcome: o.outcome, ...(o.detail ? { detail: o.detail } : {}) }];
  });
}

/** --dry-run: every step's description and what its check finds now; nothing is written or created. */
async function dryRunApply(
  run: DeployRun,
  store: DeployPlanStore,
  steps: PlanStep<DeployContext>[],
  plan: Awaited<ReturnType<typeof planDeploymentSteps>>["plan"],
): Promise<number> {
  const { out, ctx } = run;
  const result = await dryRunPlan(run, store, steps, "apply");
  const view = stepViews(steps, result);
  out.result({ platform: ctx.platform, mode: "dry-run", action: "apply", plan, steps: view }, () =>
    formatSteps(view, "apply", plan),
  );
  return ExitCode.OK;
}

/** A complete deployment is not applied twice: DEPLOY_EXISTS, exit 6, as before the runner. */
function assertNotDeployed(run: DeployRun, store: DeployPlanStore): void {
  const existing = store.record;
  if (!existing || existing.status === "creating" || run.step !== undefined) return;
  if (store.status(WAIT_RUNNING_STEP)?.status !== "done") return;
  throw new StateError(
    "DEPLOY_EXISTS",
    `${run.ctx.spec.name} is already deployed on ${run.ctx.platform} (id ${existing.ref.id}, recorded in ${run.ctx.statePath}).`,
    { hint: `Run \`${run.command("destroy")}\` first, or deploy under another name.` },
  );
}

/**
 * A failed step: when nothing is on the platform (no record), what ran before it (the address) is
 * undone, so a failed apply leaks nothing; otherwise the progress stays and the next apply resumes.
 */
async function afterFailure(
  run: DeployRun,
  ctx: DeployContext,
  store: DeployPlanStore,
  steps: PlanStep<DeployContext>[],
  failure: StepFailedError,
): Promise<void> {
  const { out } = run;
  if (await readDeployRecord(ctx.statePath).catch(() => "unreadable" as const)) {
    out.info(
      `\`${run.command("apply")}\` resumes at step ${failure.stepId}; \`${run.command("destroy")}\` removes what was made.`,
    );
    return;
  }
  out.info(`Nothing of ${ctx.spec.name} is on ${ctx.platform}: undoing what ran before ${failure.stepId}.`);
  try {
    await runPlan(steps, {
      ctx,
      store,
      gate: deployGate(() => "", true, run.io),
      mode: "undo",
      log: (m) => out.verbose(m),
      resume: run.command("destroy"),
      noun: "deployment",
    });
  } catch (error) {
    out.warn(
      `Could not undo the steps before ${failure.stepId}: ${error instanceof Error ? error.message : String(error)}; \`${run.command("destroy")}\` retries.`,
    );
  }
}

/** deploy's errors keep their own code and exit code (the runner already printed which step failed). */
function unwrap(error: unknown): unknown {
  return error instanceof StepFailedError && isLabgateError(error.cause) ? error.cause : error;
}

function outcomeLines(result: RunPlanResult): string {
  return result.steps.map((s) => `${s.id}: ${s.outcome}${s.detail ? ` (${s.detail})` : ""}`).join("\n");
}
