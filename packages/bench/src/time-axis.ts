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
