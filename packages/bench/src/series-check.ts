import { RampSchedule } from "./stages.js";
import type { ResolvedBenchOptions, SeriesPoint } from "./types.js";

type ScheduleOptions = Pick<ResolvedBenchOptions, "rate" | "stages" | "warmupMs" | "durationMs">;

/**
 * The open-loop schedule of a whole run, warm-up included: the warm-up at the start rate, then the
 * stages (or the constant rate for the measured duration). Null for a closed loop, which has none.
 */
export function arrivalSchedule(options: ScheduleOptions): RampSchedule | null {
  if (options.rate === null) return null;
  const measured = options.stages ?? [{ durationMs: options.durationMs, target: options.rate }];
  return new RampSchedule(options.rate, [
    { durationMs: options.warmupMs, target: options.rate },
    ...measured,
  ]);
}

/**
 * Why a run's per-interval series cannot be what happened; empty when it can. In an open loop an
 * answer never comes before its request was due, so by the end of every interval the responses
 * counted so far cannot outnumber the requests due so far. A series that breaks this was merged
 * wrongly or timed on clocks that disagree: its shape, and a verdict read from it, are not to be
 * trusted.
 */
export function impossibleSeries(
  options: ScheduleOptions,
  series: { intervalMs: number; points: readonly SeriesPoint[] },
): string[] {
  const schedule = arrivalSchedule(options);
  if (!schedule) return [];
  const intervalSec = series.intervalMs / 1000;
  let answered = 0;
  for (const point of series.points) {
    // Series rates are counts per interval rounded to 0.01/s (coalesced intervals average two).
    answered += point.rps * intervalSec;
    const endMs = point.tSec * 1000 + series.intervalMs;
    const due = Math.ceil(schedule.arrivalsUntil(endMs) - 1e-9);
    if (answered > due + 1 + due * 0.001) {
      return [
        `The run's time series is impossible: ${Math.round(answered)} responses by ${round3(endMs / 1000)} s since the start, when only ${due} requests were due by then (an answer never comes before its request). Its per-interval figures were merged or timed wrongly, so its shape and verdict are not trustworthy; please report this as a labgate bug.`,
      ];
    }
  }
  return [];
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
