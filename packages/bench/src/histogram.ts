import * as hdr from "hdr-histogram-js";
import type { LatencySummary } from "./types.js";

export type Histogram = hdr.Histogram;

/** Microsecond histogram, 3 significant digits, growing as needed (1µs .. hours). */
export function createHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) {
    return {
      count: 0,
      minUs: 0,
      meanUs: 0,
      stddevUs: 0,
      p50Us: 0,
      p75Us: 0,
      p90Us: 0,
      p95Us: 0,
      p99Us: 0,
      p999Us: 0,
      maxUs: 0,
    };
  }
  return {
    count: h.totalCount,
    minUs: h.minNonZeroValue,
    meanUs: Math.round(h.mean * 10) / 10,
    stddevUs: Math.round(h.stdDeviation * 10) / 10,
    p50Us: h.getValueAtPercentile(50),
    p75Us: h.getValueAtPercentile(75),
    p90Us: h.getValueAtPercentile(90),
    p95Us: h.getValueAtPercentile(95),
    p99Us: h.getValueAtPercentile(99),
    p999Us: h.getValueAtPercentile(99.9),
    maxUs: h.maxValue,
  };
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Merges encoded histograms (e.g. several runs or several generators) into one. */
export function mergeEncodedHistograms(encoded: readonly string[]): Histogram {
  const total = createHistogram();
  for (const item of encoded) total.add(decodeHistogram(item));
  return total;
}

/** Percentile → value points for a "percentile distribution" plot, dense towards the tail. */
export function percentileDistribution(h: Histogram): Array<{ percentile: number; valueUs: number }> {
  if (h.totalCount === 0) return [];
  const ticks = [0, 10, 25, 50, 75, 80, 90, 95, 97.5, 99, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100];
  return ticks.map((p) => ({ percentile: p, valueUs: p === 100 ? h.maxValue : h.getValueAtPercentile(p) }));
}
