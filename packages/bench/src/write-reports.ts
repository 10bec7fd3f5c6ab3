import { join, resolve } from "node:path";
import { writeFileAtomic } from "@labgate/core/atomic-write";
import { redact, redactValue } from "@labgate/core/redact";
import { BenchReportError } from "./errors.js";
import { renderHlog } from "./hlog.js";
import { renderOpenMetrics } from "./openmetrics.js";
import { ensureReportDir } from "./report-dir.js";
import { renderHtmlReport } from "./report-html.js";
import { renderMarkdownReport } from "./report-md.js";
import type { BenchResult } from "./types.js";

export interface WrittenReports {
  dir: string;
  resultJson: string;
  reportMd: string;
  reportHtml: string;
  /** HdrHistogram interval log of the latency (µs). */
  hlog: string;
  /** OpenMetrics text snapshot of the summary. */
  metrics: string;
}

/** Writes result.json, report.md, report.html, latency.hlog and metrics.txt (OpenMetrics) into `dir` (created if missing), each atomically. */
export async function writeReports(result: BenchResult, dir: string): Promise<WrittenReports> {
  const target = resolve(dir);
  const files = {
    dir: target,
    resultJson: join(target, "result.json"),
    reportMd: join(target, "report.md"),
    reportHtml: join(target, "report.html"),
    hlog: join(target, "latency.hlog"),
    metrics: join(target, "metrics.txt"),
  };
  try {
    // Not mkdir({recursive}): it never returns for paths such as /proc/x.
    await ensureReportDir(target);
    // Histograms are opaque base64: redaction patterns must not touch them.
    const safe: BenchResult = {
      ...redactValue({ ...result, histograms: undefined }),
      histograms: result.histograms,
    };
    await writeFileAtomic(files.resultJson, `${JSON.stringify(safe, null, 2)}\n`, { mode: 0o644 });
    await writeFileAtomic(files.reportMd, redact(renderMarkdownReport(safe)), { mode: 0o644 });
    await writeFileAtomic(files.reportHtml, redact(renderHtmlReport(safe)), { mode: 0o644 });
    await writeFileAtomic(files.hlog, renderHlog(safe), { mode: 0o644 });
    await writeFileAtomic(files.metrics, redact(renderOpenMetrics(safe)), { mode: 0o644 });
  } catch (error) {
    throw new BenchReportError(target, error);
  }
  return files;
}
