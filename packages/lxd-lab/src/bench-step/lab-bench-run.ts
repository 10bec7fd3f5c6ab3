import { rm, rmdir } from "node:fs/promises";
import { dirname } from "node:path";
import {
  type BenchOptions,
  type BenchResult,
  formatMeasurementText,
  type LabFingerprint,
  parseSlos,
  type Slo,
} from "@labgate/bench";
import type { StepContext } from "../engine/step.js";
import { type LabBenchRecord, observedVsSlo } from "./bench-record.js";
import { BENCH_REQUEST, type ResolvedBenchSettings } from "./bench-settings.js";

/**
 * What a bench-like step sends, fixed when it is planned: apply measures with exactly this, and the
 * step's planned call is rendered from it, so the plan cannot show another load than the one sent.
 */
export interface LabBenchRequest {
  url: string;
  method: string;
  contentType: string;
  body: string;
  connections: number;
  durationMs: number;
  warmupMs: number;
  rate?: number;
  /** The SLO expressions judged, as the spec writes them. */
  slos: readonly string[];
}

/** The lab's POST /predict with the spec's load and these SLOs. */
export function labBenchRequest(
  s: ResolvedBenchSettings,
  url: string,
  slos: readonly string[],
): LabBenchRequest {
  return {
    url,
    method: BENCH_REQUEST.method,
    contentType: BENCH_REQUEST.contentType,
    body: BENCH_REQUEST.body,
    connections: s.connections,
    durationMs: s.durationMs,
    warmupMs: s.warmupMs,
    ...(s.rate !== undefined ? { rate: s.rate } : {}),
    slos: [...slos],
  };
}

/** What the bench and failover steps measure: the planned request, with this run's signal and lab fingerprint. */
export function labBenchOptions(
  r: LabBenchRequest,
  signal: AbortSignal,
  lab: LabFingerprint,
): BenchOptions & { slos: readonly Slo[] } {
  return {
    url: r.url,
    method: r.method,
    headers: { "Content-Type": r.contentType },
    body: r.body,
    connections: r.connections,
    durationMs: r.durationMs,
    warmupMs: r.warmupMs,
    ...(r.rate !== undefined ? { rate: r.rate } : {}),
    signal,
    slos: parseSlos(r.slos),
    // Which lab this measured: `bench compare` warns when two results come from different labs.
    lab,
  };
}

/** The measurement, observed against each SLO, and where the report is ("bench: report …"). */
export function logBenchOutcome(
  log: (line: string) => void,
  prefix: string,
  result: BenchResult,
  done: LabBenchRecord,
  reports: { resultJson: string; reportMd: string; reportHtml: string },
): void {
  for (const line of formatMeasurementText(result).split("\n")) log(line ? `   ${line}` : "");
  for (const line of observedVsSlo(done)) log(line);
  log(`${prefix}: report ${reports.reportHtml} (also ${reports.reportMd}, ${reports.resultJson})`);
}

/** Undo of a bench-like step: only the files it wrote; the directories go only when nothing else is in them. */
export async function removeBenchReports(
  ctx: Pick<StepContext, "forget">,
  last: LabBenchRecord,
  kind: string,
  id: string,
): Promise<void> {
  const r = last.reports;
  const files = r
    ? [r.resultJson, r.reportMd, r.reportHtml, ...(r.hlog ? [r.hlog] : []), ...(r.metrics ? [r.metrics] : [])]
    : [];
  for (const f of files) await rm(f, { force: true });
  for (const dir of [last.reportDir, dirname(last.reportDir)]) await rmdir(dir).catch(() => {});
  await ctx.forget(kind, id);
}
