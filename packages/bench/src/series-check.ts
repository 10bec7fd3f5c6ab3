import { RampSchedule } from "./stages.js";
import type { ResolvedBenchOptions, SeriesPoint } from "./types.js";

type ScheduleOptions = Pick<ResolvedBenchOptions, "rate" | "stages" | "warmupMs" | "durationMs">;

/** The recorder's own interval: coalesced series (longer intervals) average their rates and latencies. */
const BASE_INTERVAL_MS = 1000;

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
 * counted so far cannot outnumber the requests due so far. In a closed loop the responses of an
 * interval kept at most every connection busy for the interval plus the longest of them, so their
 * latencies cannot add up to more. A series that breaks either was merged wrongly or timed on
 * clocks that disagree: its shape, and a verdict read from it, are not to be trusted.
 */
export function impossibleSeries(
  options: ScheduleOptions & Pick<ResolvedBenchOptions, "connections">,
  series: { intervalMs: number; points: readonly SeriesPoint[] },
): string[] {
  const schedule = arrivalSchedule(options);
  if (!schedule) return closedLoopImpossible(options.connections, series);
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

function closedLoopImpossible(
  connections: number,
  series: { intervalMs: number; points: readonly SeriesPoint[] },
): string[] {
  // A coalesced point's rate × mean latency is not its intervals' sum of latencies: nothing to check.
  if (series.intervalMs !== BASE_INTERVAL_MS) return [];
  const intervalSec = series.intervalMs / 1000;
  for (const point of series.points) {
    const busySec = point.rps * intervalSec * (point.meanUs / 1e6);
    const availableSec = connections * (intervalSec + point.maxUs / 1e6);
    if (busySec > availableSec * 1.01 + 0.01) {
      return [
        `The run's time series is impossible: the ${Math.round(point.rps * intervalSec)} responses of the interval at ${round3(point.tSec)} s add up to ${round3(busySec)} s of latency, more than ${connections} connection(s) can hold in that interval (${round3(availableSec)} s). Its per-interval figures were merged or timed wrongly, so its shape and verdict are not trustworthy; please report this as a labgate bug.`,
      ];
    }
  }
  return [];
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
