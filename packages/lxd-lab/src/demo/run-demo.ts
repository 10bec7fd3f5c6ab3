import { parseSlos } from "@labgate/bench";
import { ExitCode, isLabgateError, redact } from "@labgate/core";
import { BENCH_STEP_ID, loadLabBench } from "../bench-step/bench-step.js";
import { autoYesGate, type Gate } from "../engine/gate.js";
import { labVerify } from "../engine/lab-status.js";
import { labDown, labUp } from "../engine/run-lab.js";
import type { LabProvider } from "../engine/step.js";
import { type DemoPhase, type DemoPhaseId, type DemoPhaseInput, demoPhases } from "./demo-phases.js";
import type { DemoResult, DemoRun } from "./demo-result.js";
import { keepReport } from "./keep-report.js";

export interface DemoPhaseEvent {
  phase: DemoPhase;
  /** "start" before the phase runs; "end" after it succeeded (a failed phase ends with the run's failure). */
  at: "start" | "end";
  /** The demo's document so far. */
  result: DemoResult;
}

export interface RunDemoOptions extends DemoPhaseInput {
  /** This lab's state directory. */
  stateDir: string;
  /** Confirms each step of `lab up` (and the bench step); teardown was announced up front and does not ask. */
  gate: Gate;
  /** Ctrl-C: stops build, verify and benchmark; the teardown still runs. */
  signal?: AbortSignal;
  /** Stops the teardown itself (a Ctrl-C during it); default: nothing stops it. */
  teardownSignal?: AbortSignal;
  /** Lines for people (the steps' own output). */
  log?: (line: string) => void;
  /** What people must know even when they asked for quiet. */
  warn?: (line: string) => void;
  /** Each phase as it starts and ends: where a caller shows its title, why and outcome. */
  onPhase?: (event: DemoPhaseEvent) => void;
}

/**
 * The main job in one call: build the lab without its bench step, verify round robin, run the bench
 * step, copy its report out, and tear the lab down (unless `keep`) whatever happened before, also after
 * a failure or an abort. The verdict comes back as data (`exitCode`); only bad input throws, before
 * anything is built.
 */
export async function runDemo(options: RunDemoOptions): Promise<DemoRun> {
  parseSlos(options.spec.slos);
  const spec = { ...options.spec, bench: { ...options.spec.bench, enabled: true } };
  const phases = demoPhases({ ...options, spec });
  const result: DemoResult = {
    lab: spec.name,
    phases,
    up: null,
    verify: null,
    bench: null,
    down: null,
    kept: Boolean(options.keep),
  };
  const emit = (id: DemoPhaseId, at: DemoPhaseEvent["at"]) => {
    const phase = phases.find((p) => p.id === id);
    if (phase) options.onPhase?.({ phase, at, result });
  };
  const demo: Demo = { ...options, spec, result, emit, warn: options.warn ?? (() => {}) };
  let exitCode: number = ExitCode.OK;
  let failure: { error: unknown } | undefined;
  try {
    exitCode = await buildVerifyBench(demo);
  } catch (error) {
    failure = { error };
    result.error = errorData(error);
  }
  if (!options.keep) {
    const down = await teardown(demo);
    if (down && !failure) {
      failure = down;
      result.error = errorData(down.error);
    }
  }
  if (!failure) return { result, exitCode };
  return { result, exitCode: exitCodeOf(failure.error), failure: failure.error };
}

interface Demo extends RunDemoOptions {
  result: DemoResult;
  emit: (id: DemoPhaseId, at: DemoPhaseEvent["at"]) => void;
  warn: (line: string) => void;
}

/** Up, verify, bench, report: the exit code they earn; a failure throws. */
async function buildVerifyBench(demo: Demo): Promise<number> {
  const { result, emit, signal } = demo;
  const lab = { provider: demo.provider, spec: demo.spec, stateDir: demo.stateDir, log: demo.log };
  emit("up", "start");
  result.up = await labUp({ ...lab, provider: withoutBench(demo.provider), gate: demo.gate, signal });
  emit("up", "end");

  emit("verify", "start");
  result.verify = await labVerify({ ...lab, signal });
  emit("verify", "end");
  if (!result.verify.passed) {
    demo.warn(
      "verification failed: the benchmark is skipped because its numbers would not mean what they say.",
    );
    return ExitCode.CHECK_FAILED;
  }

  emit("bench", "start");
  let exitCode: number = ExitCode.OK;
  let thrown: { error: unknown } | undefined;
  try {
    await labUp({ ...lab, gate: demo.gate, signal, step: BENCH_STEP_ID });
    emit("bench", "end");
  } catch (error) {
    // A missed SLO is the demo's answer, not its failure: the report is kept and the exit code says it.
    if (missedSlos(error)) exitCode = ExitCode.CHECK_FAILED;
    else thrown = { error };
  }
  // Also after a stopped benchmark: what it measured until then is recorded, and worth keeping.
  await keepLastReport(demo).catch((error) => {
    if (!thrown) throw error;
    demo.warn(`the report could not be copied to ${demo.reportDir}: ${messageOf(error)}`);
  });
  if (thrown) throw thrown.error;
  if (result.bench?.aborted) return ExitCode.INTERRUPTED;
  if (result.bench?.slosPassed === false) return ExitCode.CHECK_FAILED;
  return exitCode;
}

async function keepLastReport(demo: Demo): Promise<void> {
  const { spec, provider } = demo;
  const last = await loadLabBench(demo.stateDir, spec.name, provider.name).catch(() => undefined);
  if (last?.status !== "done") return;
  demo.emit("report", "start");
  demo.result.bench = await keepReport(last, demo.reportDir, demo.warn);
  demo.emit("report", "end");
}

/** `lab down` without asking (announced up front); a failure is returned, not thrown: the demo's result still goes out. */
async function teardown(demo: Demo): Promise<{ error: unknown } | undefined> {
  demo.emit("down", "start");
  try {
    demo.result.down = await labDown({
      provider: demo.provider,
      spec: demo.spec,
      stateDir: demo.stateDir,
      log: demo.log,
      gate: autoYesGate(),
      signal: demo.teardownSignal ?? new AbortController().signal,
    });
    demo.emit("down", "end");
    return undefined;
  } catch (error) {
    demo.warn(`lab down failed: ${messageOf(error)}. Run \`labgate lab down --yes\` to finish it.`);
    return { error };
  }
}

/** The provider without its bench step: the demo builds and verifies first, then runs the bench on its own. */
function withoutBench(provider: LabProvider): LabProvider {
  return {
    ...provider,
    plan: (spec) => provider.plan(spec).filter((s) => s.description.id !== BENCH_STEP_ID),
  };
}

function missedSlos(error: unknown): boolean {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return [error, cause].some((e) => isLabgateError(e) && e.code === "LAB_SLOS_NOT_MET");
}

function errorData(error: unknown): { code: string; message: string } {
  return isLabgateError(error)
    ? { code: error.code, message: redact(error.message) }
    : { code: "INTERNAL", message: redact(messageOf(error)) };
}

function exitCodeOf(error: unknown): number {
  return isLabgateError(error) ? error.exitCode : ExitCode.EXTERNAL;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
