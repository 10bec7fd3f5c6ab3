import type { Gate } from "../engine/gate.js";
import type { Step } from "../engine/step.js";
import { LabInternalError, NotConfirmedError } from "../errors.js";
import type { ImageBuildOptions } from "./image-build-options.js";
import { type ImageStep, readCachedImage } from "./image-build-steps.js";

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
  options: ImageBuildOptions;
  steps: ImageStep[];
  gate: Gate;
  log: (message: string) => void;
  signal: AbortSignal;
  dryRun?: boolean;
}

/**
 * Runs the build like a lab: each step checked (done → skipped), shown, confirmed at the gate,
 * applied. `dryRun` only checks (read-only) and reports what would run.
 */
export async function runImageBuild(run: RunImageBuildOptions): Promise<ImageBuildResult> {
  const { options: o, steps, gate, log, signal } = run;
  const started = Date.now();
  const results: ImageBuildResult["steps"] = [];
  for (const [i, step] of steps.entries()) {
    signal.throwIfAborted();
    const label = `[${i + 1}/${steps.length}] ${step.id}`;
    let found: { done: boolean; detail?: string };
    try {
      found = await step.check();
    } catch (error) {
      if (!run.dryRun) throw error;
      results.push({
        id: step.id,
        title: step.title,
        outcome: "unknown",
        detail: (error as Error).message,
        commands: step.commands,
      });
      continue;
    }
    const detail = found.detail ? { detail: found.detail } : {};
    if (found.done) {
      if (!run.dryRun) log(`${label}: already done${found.detail ? `: ${found.detail}` : ""}`);
      results.push({
        id: step.id,
        title: step.title,
        outcome: "already-done",
        ...detail,
        commands: step.commands,
      });
      continue;
    }
    if (run.dryRun) {
      results.push({
        id: step.id,
        title: step.title,
        outcome: "would-run",
        ...detail,
        commands: step.commands,
      });
      continue;
    }
    log(showImageStep(step, i + 1, steps.length, gate.confirmsAll === true));
    const decision = await gate.confirm(
      { step: asGateStep(step), action: "apply", index: i + 1, total: steps.length },
      signal,
    );
    if (decision === "skip") {
      log(`${label}: skipped at your request.`);
      results.push({ id: step.id, title: step.title, outcome: "skipped", commands: step.commands });
      continue;
    }
    if (decision !== "yes") {
      throw new NotConfirmedError(
        decision === "no" ? "DECLINED" : "QUIT",
        `Image build stopped at step "${step.id}" at your request.`,
        "Run `labgate image build` again to continue; finished steps are not repeated.",
        { stepId: step.id },
      );
    }
    const t0 = Date.now();
    await step.apply(signal, log);
    const seconds = Math.round((Date.now() - t0) / 100) / 10;
    log(`${label}: done in ${seconds} s.`);
    results.push({ id: step.id, title: step.title, outcome: "applied", seconds, commands: step.commands });
  }
  const info = await readCachedImage(o);
  const applied = results.filter((r) => r.outcome === "applied").length;
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const message = run.dryRun
    ? `dry run: ${results.filter((r) => r.outcome === "would-run").length} step(s) would run, nothing changed`
    : applied === 0
      ? `nothing to do: image ${o.alias} is built, cached and imported`
      : `image ${o.alias} ready (${applied} step(s) run in ${seconds} s; cache ${o.entryDir})`;
  return {
    alias: o.alias,
    cacheEntry: o.entryDir,
    ...(info ? { fingerprint: info.fingerprint } : {}),
    dryRun: Boolean(run.dryRun),
    changed: applied > 0,
    steps: results,
    seconds,
    message,
  };
}

function showImageStep(step: ImageStep, index: number, total: number, confirmedByYes: boolean): string {
  const out = [`── step ${index}/${total}: ${step.id} — ${step.title}`, `   ${step.why}`, "   commands:"];
  for (const c of step.commands) out.push(`     $ ${c}`);
  if (confirmedByYes) out.push("   (confirmed by --yes)");
  return out.join("\n");
}

/** The gate shows and explains lab steps; an image step has the same face (id, title, why, commands). */
function asGateStep(step: ImageStep): Step {
  const notUsed = async (): Promise<never> => {
    throw new LabInternalError(
      `Image step ${step.id} was handed to the lab engine; runImageBuild runs image steps.`,
      {
        step: step.id,
      },
    );
  };
  return {
    id: step.id,
    title: step.title,
    why: step.why,
    commands: step.commands,
    ...(step.diagnostics ? { diagnostics: step.diagnostics } : {}),
    check: notUsed,
    apply: notUsed,
    verify: notUsed,
    undo: notUsed,
  };
}
