import * as hdr from "hdr-histogram-js";
import { decodeHistogram } from "./histogram.js";
import type { BenchResult } from "./types.js";

/**
 * The latency as an HdrHistogram interval log (.hlog, format 1.3), readable by HistogramLogProcessor,
 * HdrHistogram's plotters and hdr-histogram-js's HistogramLogReader. Values are microseconds; the
 * max column is in milliseconds (ratio 1000), as the log tools expect for µs-recorded histograms.
 * One interval per round (the whole measured window of a single run): the recorder keeps
 * per-second percentiles, not per-second histograms, so finer intervals would be invented.
 */
export function renderHlog(r: BenchResult): string {
  const lines: string[] = [];
  const writer = new hdr.HistogramLogWriter((text) => lines.push(text));
  const startMs = Date.parse(r.startedAt);
  writer.outputComment(`labgate bench ${r.tool.version}: ${r.options.method} ${r.options.url}`);
  writer.outputComment(`latency basis: ${r.latencyBasis}; values in microseconds`);
  writer.outputLogFormatVersion();
  writer.outputStartTime(startMs);
  writer.baseTime = startMs;
  writer.outputLegend();
  const rounds = r.rounds?.length ? r.rounds : null;
  if (!rounds) {
    const from = r.options.warmupMs / 1000;
    writer.outputIntervalHistogram(
      decodeHistogram(r.histograms.latency),
      from,
      from + r.measuredMs / 1000,
      1000,
    );
  } else {
    // Each round's own histogram, kept beside the pooled one.
    const perRound = r.histograms.rounds ?? [];
    rounds.forEach((round, i) => {
      const encoded = perRound[i];
      if (!encoded) return;
      const from = round.offsetSec + round.warmupMs / 1000;
      writer.outputIntervalHistogram(decodeHistogram(encoded), from, from + round.measuredMs / 1000, 1000);
    });
  }
  return lines.join("");
}
