import type { SeriesPoint } from "../types.js";

/** A fault's window on the run clock (ms since the run started, warm-up included), as it really happened. */
export interface FaultWindowInput {
  label: string;
  startMs: number;
  endMs: number;
}

/**
 * What users felt during one fault, from the per-interval series (resolution = the series interval,
 * 1 s by default: detection and recovery are rounded up to whole intervals, and the window p99 is the
 * worst interval's p99, an upper bound of the window's true p99).
 */
export interface FaultWindowStats {
  label: string;
  startMs: number;
  endMs: number;
  /** Answers and failures in the intervals overlapping the window. */
  responses: number;
  errors: number;
  /** errors / attempts in % (older results: errors / (responses + errors)), null when nothing was sent. */
  errorSharePct: number | null;
  p50Us: number | null;
  p99Us: number | null;
  maxUs: number | null;
  /** Median of the per-interval p50 / p99 before the window (measured, outside every fault). */
  baselineP50Us: number | null;
  baselineP99Us: number | null;
  /** Fault start → end of the last interval with errors inside the window; null when no error was seen. */
  detectionMs: number | null;
  /** Fault end → start of the first later interval with no error and p99 ≤ 1.2 × baseline; null if never. */
  recoveryMs: number | null;
  resolutionMs: number;
  /** Requests answered or failed in the window: responses + transport failures (an HTTP error is a response); absent as `errorKinds`. */
  attempts?: number;
  /** `errors` by kind (ECONNRESET, ETIMEDOUT, "HTTP 503" …); absent in results written before kinds were recorded. */
  errorKinds?: Record<string, number>;
  /** Responses per backend inside the window and their share of `responses`; absent as `errorKinds`. */
  backends?: Array<{ name: string; count: number; sharePct: number }>;
}

/** p99 back "within 20% of baseline", as the issue defines recovery. */
export const RECOVERY_P99_FACTOR = 1.2;

export function analyzeFaultWindows(
  series: { intervalMs: number; points: SeriesPoint[] },
  windows: readonly FaultWindowInput[],
): FaultWindowStats[] {
  const step = series.intervalMs;
  const measured = series.points.filter((p) => !p.warmup);
  const startOf = (p: SeriesPoint) => Math.round(p.tSec * 1000);
  const overlaps = (p: SeriesPoint, from: number, to: number) => startOf(p) < to && startOf(p) + step > from;
  const inAnyWindow = (p: SeriesPoint) => windows.some((w) => overlaps(p, w.startMs, w.endMs));
  return windows.map((w) => {
    const inside = measured.filter((p) => overlaps(p, w.startMs, w.endMs));
    const before = measured.filter((p) => startOf(p) + step <= w.startMs && !inAnyWindow(p) && p.rps > 0);
    const responses = Math.round(inside.reduce((n, p) => n + (p.rps * step) / 1000, 0));
    const errors = inside.reduce((n, p) => n + p.errors, 0);
    // Every backend of the run is listed: one that served nothing in the window shows as 0%.
    const served = sumCounts([
      ...measured.map((p) => Object.fromEntries(Object.keys(p.backends ?? {}).map((k) => [k, 0]))),
      ...inside.map((p) => p.backends),
    ]);
    const kinds = inside.some((p) => p.errorKinds) ? sumCounts(inside.map((p) => p.errorKinds)) : null;
    // An HTTP error (a 503 from the LB) is a response as well as an error: counted once in the base.
    const httpErrors = kinds
      ? Object.entries(kinds).reduce((n, [k, c]) => n + (k.startsWith("HTTP ") ? c : 0), 0)
      : 0;
    const attempts = responses + errors - httpErrors;
    const answered = inside.filter((p) => p.rps > 0);
    const baselineP99Us = median(before.map((p) => p.p99Us));
    const lastError = [...inside].reverse().find((p) => p.errors > 0);
    const recovered = measured.find(
      (p) =>
        startOf(p) >= w.endMs &&
        p.errors === 0 &&
        p.rps > 0 &&
        baselineP99Us !== null &&
        p.p99Us <= baselineP99Us * RECOVERY_P99_FACTOR,
    );
    return {
      label: w.label,
      startMs: w.startMs,
      endMs: w.endMs,
      responses,
      errors,
      errorSharePct: attempts > 0 ? round2((100 * errors) / attempts) : null,
      p50Us: median(answered.map((p) => p.p50Us)),
      p99Us: answered.length ? Math.max(...answered.map((p) => p.p99Us)) : null,
      maxUs: answered.length ? Math.max(...answered.map((p) => p.maxUs)) : null,
      baselineP50Us: median(before.map((p) => p.p50Us)),
      baselineP99Us,
      detectionMs: lastError ? Math.max(0, startOf(lastError) + step - w.startMs) : null,
      recoveryMs: recovered ? Math.max(0, startOf(recovered) - w.endMs) : null,
      resolutionMs: step,
      ...(kinds ? { errorKinds: kinds, attempts } : {}),
      ...(inside.some((p) => p.backends)
        ? {
            backends: Object.entries(served).map(([name, count]) => ({
              name,
              count,
              sharePct: responses > 0 ? round2((100 * count) / responses) : 0,
            })),
          }
        : {}),
    };
  });
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : Math.round(((s[mid - 1] as number) + (s[mid] as number)) / 2);
}

function sumCounts(records: Array<Record<string, number> | undefined>): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const r of records) for (const [k, n] of Object.entries(r ?? {})) sum[k] = (sum[k] ?? 0) + n;
  return Object.fromEntries(Object.entries(sum).sort((a, b) => a[0].localeCompare(b[0])));
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** The fault windows a `bench run --lab --fault` attached to its result; null for a run without faults. */
export function faultWindowsOf(result: object): FaultWindowStats[] | null {
  const w = (result as { faultWindows?: unknown }).faultWindows;
  return Array.isArray(w) && w.length > 0 ? (w as FaultWindowStats[]) : null;
}

/**
 * SLO readings over every fault window (the worst window counts): errors and their base, the worst
 * window p99 (µs), the longest detection and recovery (µs). null: no fault ran, or (recovery) a window
 * never recovered before the run ended.
 */
export const FAULT_SLO_READERS = {
  fault_errors: (r: object) => sumOrNull(faultWindowsOf(r), (w) => w.errors),
  fault_attempts: (r: object) => sumOrNull(faultWindowsOf(r), (w) => w.attempts ?? w.responses + w.errors),
  fault_p99: (r: object) => {
    const ps = (faultWindowsOf(r) ?? []).flatMap((w) => (w.p99Us === null ? [] : [w.p99Us]));
    return ps.length ? Math.max(...ps) : null;
  },
  // No error in a window: users saw no failure to detect, 0.
  detection: (r: object) => {
    const ws = faultWindowsOf(r);
    return ws ? Math.max(...ws.map((w) => (w.detectionMs ?? 0) * 1000)) : null;
  },
  recovery: (r: object) => {
    const ws = faultWindowsOf(r);
    if (!ws || ws.some((w) => w.recoveryMs === null)) return null;
    return Math.max(...ws.map((w) => (w.recoveryMs as number) * 1000));
  },
};

function sumOrNull(ws: FaultWindowStats[] | null, pick: (w: FaultWindowStats) => number): number | null {
  return ws ? ws.reduce((n, w) => n + pick(w), 0) : null;
}
