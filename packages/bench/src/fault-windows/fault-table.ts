import { textTable } from "@labgate/core/text";
import { formatMicros, round } from "../duration.js";
import { evaluateSlos, FAULT_METRICS } from "../slo.js";
import type { BenchResult, Slo, SloResult } from "../types.js";
import { type FaultWindowStats, faultWindowsOf } from "./fault-windows.js";

/** The fault table's columns, shared by the terminal, report.md and report.html. */
export const FAULT_TABLE_HEADER = [
  "fault",
  "window",
  "errors",
  "p50 in/before",
  "p99 in/before",
  "max",
  "detection",
  "recovery",
  "error kinds",
  "served in window",
];

export interface FaultTable {
  header: string[];
  rows: string[][];
  /** How the figures were taken (resolution, what "p99 in" means). */
  note: string;
}

/**
 * One row per fault window, every cell read from the window's own figures; with the run's fault
 * SLOs (fault_errors, fault_p99, detection, recovery) each row also says how that window alone fares
 * (the run's verdict is the worst window's).
 */
export function faultWindowTable(
  windows: readonly FaultWindowStats[],
  slos: readonly (Slo | SloResult)[] = [],
  result?: BenchResult,
): FaultTable {
  const faultSlos = slos.filter((s) => FAULT_METRICS.has(s.metric));
  const header = [...FAULT_TABLE_HEADER, ...(faultSlos.length && result ? ["SLOs in this window"] : [])];
  const rows = windows.map((w) => {
    const cells = [
      w.label,
      `${seconds(w.startMs)}-${seconds(w.endMs)}`,
      `${w.errors}${w.errorSharePct === null ? "" : ` (${w.errorSharePct}%)`}`,
      `${formatMicros(w.p50Us)} / ${formatMicros(w.baselineP50Us)}`,
      `${formatMicros(w.p99Us)} / ${formatMicros(w.baselineP99Us)}`,
      formatMicros(w.maxUs),
      w.detectionMs === null ? "none" : formatMicros(w.detectionMs * 1000),
      w.recoveryMs === null ? "never" : formatMicros(w.recoveryMs * 1000),
      counts(w.errorKinds),
      w.backends ? w.backends.map((b) => `${b.name} ${b.sharePct}%`).join(", ") || "none" : "-",
    ];
    if (faultSlos.length && result) cells.push(windowVerdicts(result, w, faultSlos));
    return cells;
  });
  const resolution = windows[0]?.resolutionMs ?? 1000;
  return {
    header,
    rows,
    note: `Per-interval figures (resolution ${resolution} ms): "in" is inside the window, "before" the median interval before it; p99 in = the worst interval's p99; detection = fault start → end of the last interval with errors (none: no error seen); recovery = fault end → first interval with no error and p99 within 20% of before (never: not before the run ended).`,
  };
}

/** The result's fault table, or null for a run without faults. */
export function resultFaultTable(r: BenchResult): FaultTable | null {
  const windows = faultWindowsOf(r);
  return windows ? faultWindowTable(windows, r.slos, r) : null;
}

function windowVerdicts(r: BenchResult, w: FaultWindowStats, slos: readonly Slo[]): string {
  return evaluateSlos({ ...r, faultWindows: [w] }, slos)
    .map((v) => `${v.expression} ${v.pass ? "pass" : "FAIL"} (${v.actualText})`)
    .join(", ");
}

function seconds(ms: number): string {
  return `${round(ms / 1000, 2)}s`;
}

function counts(record: Record<string, number> | undefined): string {
  if (!record) return "-";
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([k, n]) => `${k}×${n}`).join(" ") : "none";
}

/** The fault table as plain text (the terminal, while the result is still being judged). */
export function formatFaultWindows(stats: readonly FaultWindowStats[]): string {
  const t = faultWindowTable(stats);
  return `${textTable(t.header, t.rows)}\n${t.note}`;
}
