import { arrivalSchedule } from "./series-check.js";
import { RampSchedule } from "./stages.js";
import type { ResolvedBenchOptions, SeriesPoint } from "./types.js";

/** What a run's load aimed at: a request rate (open loop) or a number of connections (closed loop). */
export type TargetKind = "rate" | "connections";

type LoadOptions = Pick<
  ResolvedBenchOptions,
  "rate" | "stages" | "warmupMs" | "durationMs" | "connections" | "mode"
> & { stagesOf?: TargetKind; startConnections?: number };

/**
 * The target over the whole run (warm-up included) as a piecewise-linear schedule: the arrival rate
 * in an open loop, the connections in a closed loop (held at --connections, or ramped by stages).
 */
export function loadSchedule(options: LoadOptions): { kind: TargetKind; schedule: RampSchedule } {
  const arrivals = arrivalSchedule(options);
  if (arrivals) return { kind: "rate", schedule: arrivals };
  const start = options.stages ? (options.startConnections ?? 0) : options.connections;
  const measured = options.stages ?? [{ durationMs: options.durationMs, target: options.connections }];
  return {
    kind: "connections",
    schedule: new RampSchedule(start, [{ durationMs: options.warmupMs, target: start }, ...measured]),
  };
}

/**
 * The series with each point's target beside what was achieved: the mean of the target over the
 * part of the interval that lay inside the run (0 past its end, where an open loop only drains).
 */
export function withTargets(
  options: LoadOptions,
  series: { intervalMs: number; points: SeriesPoint[] },
): { intervalMs: number; points: SeriesPoint[]; target: TargetKind } {
  const { kind, schedule } = loadSchedule(options);
  const endMs = schedule.totalMs;
  const points = series.points.map((point) => {
    const from = point.tSec * 1000;
    const to = Math.min(from + series.intervalMs, endMs);
    const target =
      to > from ? (schedule.arrivalsUntil(to) - schedule.arrivalsUntil(from)) / ((to - from) / 1000) : 0;
    return { ...point, target: Math.round(target * 100) / 100 };
  });
  return { intervalMs: series.intervalMs, points, target: kind };
}
