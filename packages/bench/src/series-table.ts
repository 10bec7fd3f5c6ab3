import { formatMicros } from "./duration.js";
import type { BenchResult, SeriesPoint } from "./types.js";

/** Rows of the report's "Over time" table at most: longer series are shown in groups of intervals. */
export const SERIES_TABLE_ROWS = 60;

/**
 * The time series as a table, the target beside what was achieved: one row per interval, or per
 * group of consecutive intervals when there are more than SERIES_TABLE_ROWS (rates and the target
 * averaged over the group, errors summed, the worst p99 kept).
 */
export function seriesTable(r: BenchResult): { header: string[]; rows: string[][]; note: string } | null {
  const points = r.series.points;
  if (points.length === 0) return null;
  const intervalSec = r.series.intervalMs / 1000;
  const group = Math.ceil(points.length / SERIES_TABLE_ROWS);
  const kind = r.series.target;
  const hasTarget = kind !== undefined && points.some((p) => p.target !== undefined);
  const header = [
    "from (s)",
    ...(hasTarget ? [kind === "connections" ? "target connections" : "target req/s"] : []),
    "responses/s",
    ...(kind === "connections" ? ["connections in use"] : []),
    "errors",
    "p50",
    "p99",
  ];
  const rows: string[][] = [];
  for (let i = 0; i < points.length; i += group) {
    const slice = points.slice(i, i + group);
    const mean = (pick: (p: SeriesPoint) => number) => slice.reduce((s, p) => s + pick(p), 0) / slice.length;
    const rps = mean((p) => p.rps);
    const answered = slice.filter((p) => p.rps > 0);
    rows.push([
      `${round2(slice[0]!.tSec)}${slice[0]!.warmup ? " (warm-up)" : ""}`,
      ...(hasTarget ? [String(round2(mean((p) => p.target ?? 0)))] : []),
      String(round2(rps)),
      ...(kind === "connections" ? [String(round2(mean((p) => (p.rps * p.meanUs) / 1e6)))] : []),
      String(slice.reduce((s, p) => s + p.errors, 0)),
      // A median of medians is no median: one interval shows its own, a group only its worst p99.
      answered.length && group === 1 ? formatMicros(slice[0]!.p50Us) : "—",
      answered.length ? formatMicros(Math.max(...answered.map((p) => p.p99Us))) : "—",
    ]);
  }
  const span =
    group === 1
      ? `${intervalSec} s intervals`
      : `groups of ${group} × ${intervalSec} s intervals (p99: the worst interval's)`;
  const inUse =
    kind === "connections" ? "; connections in use = responses/s × mean latency (Little's law)" : "";
  return {
    header,
    rows,
    note: `${span}; warm-up intervals included and marked${inUse}. — = no response in the interval.`,
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
