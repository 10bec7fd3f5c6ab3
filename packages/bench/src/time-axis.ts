import type { BenchResult, SeriesPoint } from "./types.js";

/** One round's place on the result's time axis, in seconds since the run (first round) started. */
export interface TimeWindow {
  start: number;
  warmupEnd: number;
  end: number;
}

/** A series point with the share of its interval that was inside its window (the last one may be partial). */
export interface TimedPoint {
  point: SeriesPoint;
  /** Middle of the covered part of the interval. */
  x: number;
  /** Seconds of the interval that lay inside the window. */
  coveredSec: number;
  window: number;
}

export function timeWindows(r: BenchResult): TimeWindow[] {
  if (r.rounds?.length) {
    return r.rounds.map((round) => ({
      start: round.offsetSec,
      warmupEnd: round.offsetSec + round.warmupMs / 1000,
      end: round.offsetSec + (round.warmupMs + round.measuredMs) / 1000,
    }));
  }
  const warmupEnd = r.options.warmupMs / 1000;
  return [{ start: 0, warmupEnd, end: warmupEnd + r.measuredMs / 1000 }];
}

/** The one time axis every chart of the run uses: from the start to the end of the last window. */
export function timeDomain(windows: readonly TimeWindow[]): [number, number] {
  return [0, Math.max(...windows.map((w) => w.end), 1e-3)];
}

/** Points placed on the time axis; rates of a partial last interval are per covered second, not per full interval. */
export function timedPoints(r: BenchResult, windows: readonly TimeWindow[]): TimedPoint[] {
  const interval = r.series.intervalMs / 1000;
  const out: TimedPoint[] = [];
  for (const point of r.series.points) {
    const window = windows.findIndex((w) => point.tSec >= w.start - 1e-6 && point.tSec < w.end - 1e-6);
    if (window < 0) continue;
    const coveredSec = Math.min(point.tSec + interval, windows[window]!.end) - point.tSec;
    if (coveredSec <= 1e-6) continue;
    out.push({ point, x: point.tSec + coveredSec / 2, coveredSec, window });
  }
  return out;
}

/** A fault's window on the time axis (seconds since the run started), labelled with the fault as written. */
export interface FaultShade {
  from: number;
  to: number;
  label: string;
}

/** Every fault window of the run, where it really happened (applied → undone), on the shared time axis. */
export function faultShades(r: BenchResult): FaultShade[] {
  return (r.faultWindows ?? [])
    .filter((w) => w.endMs > w.startMs)
    .map((w) => ({ from: w.startMs / 1000, to: w.endMs / 1000, label: w.label }));
}

/**
 * Each backend's share of the responses of every interval, in %, with breaks where an interval had no
 * response (no share to speak of) and between rounds. Empty when the series carries no per-backend counts.
 */
export function backendShareSeries(
  r: BenchResult,
  points: readonly TimedPoint[],
): Array<{ name: string; points: Array<[number, number | null]> }> {
  const names = [...new Set(points.flatMap((p) => Object.keys(p.point.backends ?? {})))].sort();
  const interval = r.series.intervalMs / 1000;
  return names.map((name) => ({
    name,
    points: withBreaks(points, (p) => {
      const responses = p.point.rps * interval;
      if (!p.point.backends || responses < 0.5) return null;
      return Math.round(((p.point.backends[name] ?? 0) / responses) * 10_000) / 100;
    }),
  }));
}

/** Line points with a break (null) between windows, so nothing is drawn across a gap between rounds. */
export function withBreaks(
  points: readonly TimedPoint[],
  value: (p: TimedPoint) => number | null,
): Array<[number, number | null]> {
  const out: Array<[number, number | null]> = [];
  points.forEach((p, i) => {
    if (i > 0 && points[i - 1]!.window !== p.window) out.push([p.x, null]);
    out.push([p.x, value(p)]);
  });
  return out;
}
