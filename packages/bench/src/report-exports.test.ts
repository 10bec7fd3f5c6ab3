import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import * as hdr from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import { decodeHistogram } from "./histogram.js";
import { renderOpenMetrics } from "./openmetrics.js";
import { mergeRounds } from "./rounds.js";
import { applySlos, parseSlos } from "./slo.js";
import { latency, makeResult } from "./test-support/fixtures.js";
import { tempDir } from "./test-support/temp-dir.js";
import { writeReports } from "./write-reports.js";

/** Debian's python3, where python3-prometheus-client (scripts/install-system-deps.sh) is installed. */
const DEBIAN_PYTHON = "/usr/bin/python3";

describe("latency.hlog", () => {
  it("is an HdrHistogram interval log whose intervals read back to each round's histogram", async () => {
    const rounds = [0, 1, 2].map((i) =>
      makeResult({ startedAt: new Date(Date.parse("2026-01-01T00:00:00Z") + i * 12_000).toISOString() }),
    );
    const result = mergeRounds(rounds);
    const files = await writeReports(result, await tempDir("labgate-hlog-"));
    const text = await readFile(files.hlog, "utf8");
    expect(text).toMatch(/^#\[Histogram log format version 1\.3\]$/m);
    expect(text).toMatch(/^#\[StartTime: 1767225600\.000 \(seconds since epoch\)/m);
    expect(text).toMatch(
      /^"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"$/m,
    );
    const reader = new hdr.HistogramLogReader(text);
    const back: hdr.Histogram[] = [];
    for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) back.push(h);
    expect(back).toHaveLength(3);
    const original = decodeHistogram(rounds[0]!.histograms.latency);
    for (const h of back) {
      expect(h.totalCount).toBe(original.totalCount);
      expect(h.getValueAtPercentile(99)).toBe(original.getValueAtPercentile(99));
    }
    // Interval lines: start (s since StartTime), length (the measured 10 s), max in ms.
    const lines = text.split("\n").filter((l) => /^\d/.test(l));
    expect(lines.map((l) => l.split(",").slice(0, 3).map(Number))).toEqual([
      [0, 10, original.maxValue / 1000],
      [12, 10, original.maxValue / 1000],
      [24, 10, original.maxValue / 1000],
    ]);
  });
});

describe("metrics.txt (OpenMetrics)", () => {
  it("parses with Prometheus' OpenMetrics parser and carries the summary", async () => {
    const result = applySlos(
      makeResult({ latency: latency(200_000), rate: null }),
      parseSlos(["p99<250ms", "errors<0.5%"]),
    );
    const text = renderOpenMetrics({
      ...result,
      options: { ...result.options, url: 'http://127.0.0.1:8080/a"b\\c' },
    });
    expect(text.endsWith("# EOF\n")).toBe(true);
    const script = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append([f.name, f.type, f.unit, s.name, s.labels, s.value])
print(json.dumps(out))
`;
    const parsed = JSON.parse(
      execFileSync(DEBIAN_PYTHON, ["-c", script], { input: text, encoding: "utf8" }),
    ) as Array<[string, string, string, string, Record<string, string>, number]>;
    const find = (name: string, labels: Record<string, string> = {}) =>
      parsed.find((s) => s[3] === name && Object.entries(labels).every(([k, v]) => s[4][k] === v));
    expect(find("labgate_bench_latency_seconds", { quantile: "0.99" })?.slice(1, 3)).toEqual([
      "summary",
      "seconds",
    ]);
    expect(find("labgate_bench_latency_seconds", { quantile: "0.99" })?.[5]).toBeCloseTo(0.2, 9);
    expect(find("labgate_bench_latency_seconds_count")?.[5]).toBe(1000);
    expect(find("labgate_bench_run_info")?.[4]["url"]).toBe('http://127.0.0.1:8080/a"b\\c');
    expect(find("labgate_bench_responses_total", { code: "503" })?.[5]).toBe(10);
    expect(
      find("labgate_bench_backend_latency_seconds", { backend: "web2", quantile: "0.99" })?.[5],
    ).toBeCloseTo(0.25, 9);
    expect(find("labgate_bench_slo_pass", { slo: "p99<250ms" })?.[5]).toBe(1);
    expect(find("labgate_bench_slo_pass", { slo: "errors<0.5%" })?.[5]).toBe(0);
    expect(find("labgate_bench_error_ratio")?.[5]).toBeCloseTo(0.01, 9);
  });
});
