import {
  analyzeFaultWindows,
  applySlos,
  type FaultRecord as BenchFaultRecord,
  type BenchHooks,
  type BenchOptions,
  type BenchResult,
  type FaultWindowStats,
  formatFaultWindows,
  runRounds,
  type Slo,
} from "@labgate/bench";
import type { FaultActuator, FaultRunResult, FaultTimeline } from "../faults/fault-runner.js";
import { runFaults } from "../faults/fault-runner.js";
import { describeFault, type FaultSpec } from "../faults/fault-spec.js";
import { describeHealthCheck, expectedDetectionMs } from "../spec/health-check.js";
import type { LabHealthCheckSpec } from "../spec/lab-spec.js";
import { LB_WATCH_INTERVAL_MS, lbDownAfter, type ServerTransition, watchLbServers } from "./lb-down-watch.js";
import type { LbWatchTarget } from "./lb-watch-target.js";

/** Faults checked and confirmed, with the actions that do and undo them; nothing has run yet. */
export interface PreparedFaults {
  faults: FaultSpec[];
  actuator: FaultActuator;
}

/**
 * One fault as it happened, for result.json and the text report (ms since the run started, warm-up included):
 * bench's record of it plus what the lab knows of HAProxy's detection.
 */
export interface FaultRecord extends BenchFaultRecord {
  /**
   * stop/kill/pause: how long HAProxy's checks need to take the backend out (inter × fall of the
   * lab's `lb.healthCheck`); null for faults the checks do not act on (drain/maint take it out at
   * once; delay/loss keep it UP) or when the check timing is unknown.
   */
  expectedDetectionMs: number | null;
  /**
   * stop/kill/pause with the LB's stats watched: ms from the fault's start until HAProxy showed the
   * backend DOWN (polled every 50 ms); null when not watched or not seen inside the window.
   */
  lbDownAfterMs: number | null;
}

/** What one run with faults needs; `bench run --lab` and the lab's failover step both come through here. */
export interface FaultBenchInput {
  options: BenchOptions & { slos: readonly Slo[] };
  repeat?: number;
  hooks?: BenchHooks & { onRound?: (round: number, of: number) => void };
  prepared?: PreparedFaults;
  /** Ctrl-C: undoes every applied fault at once (the bench's own signal is in `options`). */
  faultSignal?: AbortSignal;
  /** The lab's HAProxy check timing: the "expected detection" the measured one is judged against. */
  healthCheck?: LabHealthCheckSpec;
  /** The LB's stats CSV and server names: watched during the faults for when HAProxy took a backend out. */
  lbWatch?: LbWatchTarget;
  log: (message: string) => void;
  /**
   * The caller prints the result as text, which holds the fault table (`labgate bench run` without
   * --json): the log then leaves the table out, so it is shown once. The failover step keeps it.
   */
  resultTextShowsWindows?: boolean;
}

/**
 * Runs the bench with the faults on its clock. Every fault is undone before this returns or throws
 * (bench end, Ctrl-C or error), then each fault's window is measured and the SLOs (incl. fault_errors,
 * fault_p99, detection, recovery) are judged with the windows in place.
 */
export async function runFaultBench(input: FaultBenchInput): Promise<FaultBenchOutcome> {
  const { options, prepared } = input;
  const faultController = new AbortController();
  const onAbort = () => faultController.abort();
  input.faultSignal?.addEventListener("abort", onAbort, { once: true });
  if (input.faultSignal?.aborted) faultController.abort();
  // The watch and the fault runner share one clock: the runner's starts in the same tick as `base`.
  const base = performance.now();
  const watch =
    prepared && input.lbWatch
      ? watchLbServers(input.lbWatch.statsUrl, () => performance.now() - base)
      : undefined;
  const faultRun = prepared
    ? startFaults(prepared, options.warmupMs ?? 0, faultController.signal, input.log)
    : undefined;
  let transitions: ServerTransition[] | undefined;
  let result: BenchResult;
  let outcome: FaultRunResult | Error | undefined;
  try {
    result = await runRounds(options, input.repeat ?? 1, input.hooks ?? {});
  } finally {
    // The bench is over (or failed): whatever fault is still applied is undone now, before anything is reported.
    faultController.abort();
    outcome = await faultRun;
    transitions = await watch?.stop();
    input.faultSignal?.removeEventListener("abort", onAbort);
  }
  if (outcome instanceof Error) throw outcome;
  if (!outcome || !prepared) return { result };
  const faults = faultRecords(outcome.timelines, input.healthCheck, transitions, input.lbWatch?.serverOf);
  const faultWindows = analyzeFaultRecords(result, faults);
  input.log(
    [
      formatFaultRecords(faults, prepared.faults),
      ...(input.resultTextShowsWindows ? [] : [formatFaultWindows(faultWindows)]),
      ...expectedDetectionLines(faults, faultWindows, input.healthCheck),
    ].join("\n"),
  );
  // Kept beside the measurement in result.json (and --json): when each fault really started and ended.
  return {
    result: applySlos(Object.assign(result, { faults, faultWindows }), options.slos),
    faults,
    faultWindows,
  };
}

/** The judged result (with `faults` and `faultWindows` inside it when faults ran), and both on their own. */
export interface FaultBenchOutcome {
  result: BenchResult;
  faults?: FaultRecord[];
  faultWindows?: FaultWindowStats[];
}

/**
 * Starts the faults on the bench's clock: offsets count from the start of the measured window, so
 * each fault is shifted by the warm-up. Settles (never rejects) once every fault is undone.
 */
export function startFaults(
  prepared: PreparedFaults,
  warmupMs: number,
  signal: AbortSignal,
  log: (m: string) => void,
): Promise<FaultRunResult | Error> {
  const shifted = prepared.faults.map((f) => ({ ...f, atMs: f.atMs + warmupMs }));
  const byShifted = new Map(shifted.map((s, i) => [s, prepared.faults[i] as FaultSpec]));
  return runFaults(shifted, (f) => prepared.actuator(byShifted.get(f) ?? f), { signal, log }).catch(
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
}

/** Faults HAProxy's health checks must notice: the backend stops answering (or answers nothing). */
const CHECKED_ACTIONS = new Set(["stop", "kill", "pause"]);

/** inter × fall for the faults HAProxy's checks must notice; null for the others or without a timing. */
export function expectedDetectionFor(action: string, check?: LabHealthCheckSpec): number | null {
  return check && CHECKED_ACTIONS.has(action) ? expectedDetectionMs(check) : null;
}

export function faultRecords(
  timelines: FaultTimeline[],
  check?: LabHealthCheckSpec,
  transitions?: readonly ServerTransition[],
  serverOf: (target: string) => string = (t) => t,
): FaultRecord[] {
  return timelines.map((t) => ({
    fault: t.fault.text,
    action: t.fault.action,
    target: t.fault.target,
    plannedStartMs: t.fault.atMs,
    plannedEndMs: t.fault.atMs + t.fault.forMs,
    appliedAtMs: t.appliedAtMs ?? null,
    activeAtMs: t.activeAtMs ?? null,
    undoneAtMs: t.undoneAtMs ?? null,
    undoReason: t.undoReason ?? null,
    error: t.error ?? null,
    expectedDetectionMs: expectedDetectionFor(t.fault.action, check),
    lbDownAfterMs:
      transitions && t.appliedAtMs !== undefined && CHECKED_ACTIONS.has(t.fault.action)
        ? lbDownAfter(transitions, serverOf(t.fault.target), t.appliedAtMs, t.undoneAtMs)
        : null,
  }));
}

export function formatFaultRecords(records: FaultRecord[], faults: FaultSpec[]): string {
  const s = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(2)}s`);
  return records
    .map((r, i) => {
      const f = faults[i];
      const what = f ? describeFault(f) : r.fault;
      const state =
        r.appliedAtMs === null
          ? "not applied"
          : `applied ${s(r.appliedAtMs)}, active ${s(r.activeAtMs)}, undone ${s(r.undoneAtMs)} (${r.undoReason ?? "?"})`;
      return `fault ${what}: ${state}${r.error ? `; ${r.error}` : ""}`;
    })
    .join("\n");
}

/**
 * Each fault's window as it really happened (signal sent → backend back), on the bench's clock: the
 * fault runner starts right before the bench, so the two clocks differ by the bench's start-up only.
 */
export function analyzeFaultRecords(result: BenchResult, records: FaultRecord[]): FaultWindowStats[] {
  const windows = records
    .filter((r) => r.appliedAtMs !== null)
    .map((r) => ({
      label: r.fault,
      startMs: r.appliedAtMs as number,
      endMs: r.undoneAtMs ?? r.plannedEndMs,
    }));
  return analyzeFaultWindows(result.series, windows);
}

/**
 * Detection against inter × fall. HAProxy's first failed check comes up to one interval after the
 * fault, so up to one check interval (plus the stats poll) above the expected figure is "as expected".
 * The LB's own view (when HAProxy marked the backend DOWN) is judged; the users' view (fault start →
 * last error, whole series intervals) is shown beside it: HAProxy's retries may hide a dead backend.
 */
export function expectedDetectionLines(
  records: readonly FaultRecord[],
  windows: readonly FaultWindowStats[],
  check?: LabHealthCheckSpec,
): string[] {
  if (!check) return [];
  const applied = records.filter((r) => r.appliedAtMs !== null);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
  return applied.flatMap((r, i) => {
    if (r.expectedDetectionMs === null) return [];
    const w = windows[i];
    const expected = r.expectedDetectionMs;
    const users =
      !w || w.detectionMs === null
        ? "users saw no error (HAProxy's retries answered every request)"
        : `users' last error ${s(w.detectionMs)} after the fault's start`;
    const head = `expected detection for '${r.fault}': ${s(expected)} (${describeHealthCheck(check)}: inter × fall)`;
    if (r.lbDownAfterMs === null)
      return [`${head}; HAProxy's stats were not watched or never showed ${r.target} DOWN; ${users}`];
    const slack = check.intervalMs + LB_WATCH_INTERVAL_MS;
    const verdict =
      r.lbDownAfterMs <= expected + slack
        ? "as expected"
        : `SLOWER than expected by ${s(r.lbDownAfterMs - expected)} (allowed ${s(slack)})`;
    return [`${head}; HAProxy marked ${r.target} DOWN after ${s(r.lbDownAfterMs)}: ${verdict}; ${users}`];
  });
}
