import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareResults, readResultFile } from "./compare.js";
import { BenchFileError } from "./errors.js";
import { formatCompareText } from "./format.js";
import { latency, makeResult, point } from "./test-support/fixtures.js";
import { writeReports } from "./write-reports.js";

const series = (rps: number, p99: number, wobble: number) => ({
  intervalMs: 1000,
  points: Array.from({ length: 10 }, (_, i) =>
    point(i, rps + (i % 2 ? wobble : -wobble), p99 + (i % 2 ? wobble * 1000 : -wobble * 1000)),
  ),
});

describe("compareResults", () => {
  it("calls a large shift worse and a small one within noise", () => {
    const a = makeResult({ series: series(100, 200_000, 5) });
    const slower = makeResult({
      latency: latency(300_000),
      throughput: { rps: 70, bytesPerSec: 7000, bytes: 70_000 },
      series: series(70, 300_000, 5),
    });
    const c = compareResults(a, slower);
    const row = (m: string) => c.rows.find((r) => r.metric === m)!;
    expect(row("p99")).toMatchObject({
      a: 200_000,
      b: 300_000,
      changePct: 50,
      significant: true,
      verdict: "worse",
    });
    expect(row("rps")).toMatchObject({ changePct: -30, verdict: "worse" });

    const same = makeResult({
      latency: latency(201_000),
      throughput: { rps: 101, bytesPerSec: 10_100, bytes: 101_000 },
      series: series(101, 201_000, 5),
    });
    const d = compareResults(a, same);
    expect(d.rows.find((r) => r.metric === "p99")).toMatchObject({
      significant: false,
      verdict: "within noise",
    });
    expect(d.rows.find((r) => r.metric === "rps")).toMatchObject({
      significant: false,
      verdict: "within noise",
    });

    const faster = compareResults(slower, a);
    expect(faster.rows.find((r) => r.metric === "p99")?.verdict).toBe("better");
    expect(formatCompareText(c)).toMatch(/p99\s+200ms\s+300ms\s+\+50%/);
  });

  it("judges error rates with a two-proportion test and refuses to judge too-short runs", () => {
    const a = makeResult();
    const b = makeResult({
      requests: { ...makeResult().requests, failed: 100, errorRatePct: 10 },
      series: { intervalMs: 1000, points: [point(0, 100, 200_000), point(1, 100, 200_000)] },
    });
    const c = compareResults(a, b);
    expect(c.rows.find((r) => r.metric === "errors")).toMatchObject({ a: 1, b: 10, verdict: "worse" });
    expect(c.rows.find((r) => r.metric === "p99")).toMatchObject({ significant: null, verdict: "unknown" });
  });

  it("warns when the runs are not comparable", () => {
    const a = makeResult();
    const b = makeResult({
      options: { ...makeResult().options, url: "http://127.0.0.1:9/", connections: 50 },
    });
    const c = compareResults(a, b);
    expect(c.warnings.join("\n")).toMatch(/different URLs/);
    expect(c.warnings.join("\n")).toMatch(/different load/);
  });

  it("warns when the same URL was sent a different request (method or body)", () => {
    const base = makeResult().options;
    const a = makeResult();
    const b = makeResult({
      options: {
        ...base,
        method: "POST",
        body: { bytes: 42, contentType: "application/json", contentTypeInferred: true },
      },
    });
    expect(compareResults(a, b).warnings.join("\n")).toContain(
      `different requests (GET ${base.url} vs POST ${base.url} with a 42 B body (application/json, inferred))`,
    );
    expect(compareResults(b, b).warnings.join("\n")).not.toMatch(/different requests/);
  });

  it("reads a result.json written before request bodies as one sent without a body", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-compare-old-"));
    const old = makeResult() as unknown as { options: Record<string, unknown> };
    delete old.options["body"];
    await writeFile(join(dir, "old.json"), JSON.stringify(old));
    const back = await readResultFile(join(dir, "old.json"));
    expect(back.options.body).toBeNull();
    expect(compareResults(back, makeResult()).warnings.join("\n")).not.toMatch(/different requests/);
  });

  it("round-trips through result.json and rejects files that are not results", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-compare-"));
    const files = await writeReports(makeResult(), join(dir, "a"));
    const back = await readResultFile(files.resultJson);
    expect(back.latency.p99Us).toBe(200_000);
    expect(compareResults(back, back).rows.every((r) => r.verdict === "within noise")).toBe(true);

    await writeFile(join(dir, "other.json"), JSON.stringify({ hello: 1 }));
    await writeFile(join(dir, "broken.json"), "{");
    await expect(readResultFile(join(dir, "other.json"))).rejects.toThrow(/not a labgate bench result/);
    await expect(readResultFile(join(dir, "broken.json"))).rejects.toThrow(BenchFileError);
    await expect(readResultFile(join(dir, "missing.json"))).rejects.toThrow(/ENOENT/);
  });
});
