import { createHistogram, encodeHistogram } from "../histogram.js";
import type { BenchResult, LatencySummary, SeriesPoint } from "../types.js";

export function latency(p99Us: number, extra: Partial<LatencySummary> = {}): LatencySummary {
  return {
    count: 1000,
    minUs: 100,
    meanUs: p99Us / 4,
    stddevUs: p99Us / 5,
    p50Us: p99Us / 5,
    p75Us: p99Us / 4,
    p90Us: p99Us / 2,
    p95Us: p99Us / 1.5,
    p99Us,
    p999Us: p99Us * 1.2,
    maxUs: p99Us * 1.5,
    ...extra,
  };
}

export function point(tSec: number, rps: number, p99Us: number, warmup = false): SeriesPoint {
  return {
    tSec,
    warmup,
    rps,
    bytesPerSec: rps * 100,
    errors: 0,
    meanUs: p99Us / 4,
    p50Us: p99Us / 5,
    p90Us: p99Us / 2,
    p95Us: p99Us / 1.5,
    p99Us,
    p999Us: p99Us * 1.2,
    maxUs: p99Us * 1.5,
    jitterUs: p99Us / 10,
  };
}

/** A complete, self-consistent result for unit tests of SLOs, compare and reports. */
export function makeResult(overrides: Partial<BenchResult> = {}): BenchResult {
  const h = createHistogram();
  for (let i = 1; i <= 1000; i++) h.recordValue(i * 100);
  const encoded = encodeHistogram(h);
  return {
    schema: "labgate.bench.result/v1",
    tool: { name: "labgate-bench", version: "0.1.0" },
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:10.000Z",
    options: {
      url: "http://127.0.0.1:8080/",
      mode: "closed-loop",
      connections: 10,
      durationMs: 10_000,
      warmupMs: 0,
      rate: null,
      timeoutMs: 5000,
      backendHeader: "X-Served-By",
      method: "GET",
      headers: {},
      body: null,
      insecure: false,
      engine: "undici",
      workers: 2,
    },
    measuredMs: 10_000,
    latencyBasis: "actual-send",
    requests: {
      sent: 1000,
      responses: 1000,
      ok: 990,
      failed: 10,
      errorRatePct: 1,
      timeouts: 0,
      connectionErrors: 0,
      errorsByCode: {},
      statusCodes: { "200": 990, "503": 10 },
      non2xx: 10,
      unfinished: 0,
    },
    throughput: { rps: 100, bytesPerSec: 10_000, bytes: 100_000 },
    latency: latency(200_000),
    serviceTime: latency(200_000),
    jitter: { meanAbsDiffUs: 3000, stddevUs: 40_000, spreadP99P50Us: 160_000, definition: "test" },
    rate: null,
    backends: {
      header: "X-Served-By",
      entries: [
        { name: "web1", count: 600, sharePct: 60, latency: latency(150_000) },
        { name: "web2", count: 400, sharePct: 40, latency: latency(250_000) },
      ],
      minSharePct: 40,
      unlabeled: 0,
    },
    series: {
      intervalMs: 1000,
      points: Array.from({ length: 10 }, (_, i) =>
        point(i, 100 + (i % 2 ? 3 : -3), 200_000 + (i % 2 ? 5000 : -5000)),
      ),
    },
    generator: {
      engine: "undici",
      workers: 2,
      starvedPercent: 1,
      threads: [],
      cpuPercent: 20,
      eventLoopUtilizationPercent: 20,
      eventLoopDelayP99Ms: 2,
      saturated: false,
      trustworthy: true,
      notes: [],
    },
    histograms: {
      encoding: "hdr-histogram-compressed-base64",
      unit: "us",
      latency: encoded,
      serviceTime: encoded,
      perBackend: { web1: encoded, web2: encoded },
    },
    slos: [],
    slosPassed: null,
    sloVerdict: "none",
    aborted: false,
    warnings: [],
    ...overrides,
  };
}
