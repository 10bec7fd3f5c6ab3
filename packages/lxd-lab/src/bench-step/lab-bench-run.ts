import { rm, rmdir } from "node:fs/promises";
import { dirname } from "node:path";
import {
  type BenchOptions,
  type BenchResult,
  formatMeasurementText,
  type LabFingerprint,
  type Slo,
} from "@labgate/bench";
import type { StepContext } from "../engine/step.js";
import { BENCH_REQUEST, type ResolvedBenchSettings } from "./bench-settings.js";
import { type LabBenchRecord, observedVsSlo } from "./bench-step.js";

/** What the bench and failover steps measure: the lab's POST /predict with the spec's load, SLOs and lab fingerprint. */
export function labBenchOptions(
  s: ResolvedBenchSettings,
  url: string,
  signal: AbortSignal,
  slos: readonly Slo[],
  lab: LabFingerprint,
): BenchOptions & { slos: readonly Slo[] } {
  return {
    url,
    method: BENCH_REQUEST.method,
    headers: { "Content-Type": BENCH_REQUEST.contentType },
    body: BENCH_REQUEST.body,
    connections: s.connections,
    durationMs: s.durationMs,
    warmupMs: s.warmupMs,
    ...(s.rate !== undefined ? { rate: s.rate } : {}),
    signal,
    slos,
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
