import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareResults, readResultFile } from "./compare.js";
import { formatCompareMarkdown, formatCompareText } from "./compare-format.js";
import { BenchFileError } from "./errors.js";
import { mergeRounds, summarizeRound } from "./rounds.js";
import { latency, makeResult } from "./test-support/fixtures.js";
import { tempDir } from "./test-support/temp-dir.js";
import type { BenchResult } from "./types.js";
import { writeReports } from "./write-reports.js";

/** A run of `rounds.length` rounds: each round's p99 (µs) and rps, the rest of the fixture scaled alike. */
function roundsRun(rounds: Array<[p99Us: number, rps: number]>, start = "2026-01-01T00:00:00.000Z") {
  const t0 = Date.parse(start);
  return mergeRounds(
    rounds.map(([p99, rps], i) =>
      makeResult({
        startedAt: new Date(t0 + i * 11_000).toISOString(),
        latency: latency(p99),
        throughput: { rps, bytesPerSec: rps * 100, bytes: rps * 1000 },
      }),
    ),
  );
}

describe("compareResults", () => {
  it("calls a shift beyond the between-round spread worse, and a small one within noise", () => {
    const a = roundsRun(
      [200_000, 202_000, 198_000, 201_000, 199_000, 200_500].map((p) => [p, 100 + (p % 7)]),
    );
    const slower = roundsRun(
      [300_000, 303_000, 297_000, 301_000, 299_000, 300_500].map((p) => [p, 70 + (p % 5)]),
    );
    const c = compareResults(a, slower);
    const row = (m: string) => c.rows.find((r) => r.metric === m)!;
    expect(row("p99")).toMatchObject({ significant: true, verdict: "worse" });
    expect(row("p99").changePct).toBeCloseTo(50, 0);
    expect(row("p99").aRounds).toHaveLength(6);
    expect(row("rps").verdict).toBe("worse");
    expect(compareResults(slower, a).rows.find((r) => r.metric === "p99")?.verdict).toBe("better");
    expect(formatCompareText(c)).toMatch(/p99 +200ms +300ms +\+49\.9\d%/);

    // Overlapping rounds: a 0.5% shift inside a ±1% spread.
    const same = roundsRun([201_000, 203_000, 199_000, 202_000, 200_000, 201_500].map((p) => [p, 100]));
    const d = compareResults(a, same);
    expect(d.rows.find((r) => r.metric === "p99")).toMatchObject({
      significant: false,
      verdict: "within noise",
    });
    expect(d.rows.find((r) => r.metric === "p99")?.roundsNeeded).toBeGreaterThan(6);
  });

  it("does not judge single-round runs and says how many rounds it needs", () => {
    const a = makeResult();
    const b = makeResult({ latency: latency(400_000) });
    const c = compareResults(a, b);
    expect(c.rows.find((r) => r.metric === "p99")).toMatchObject({
      a: 200_000,
      b: 400_000,
      significant: null,
      verdict: "unknown",
      roundsNeeded: c.minRounds,
    });
    expect(c.minRounds).toBeGreaterThanOrEqual(5);
    expect(c.warnings.join("\n")).toMatch(new RegExp(`--repeat ${c.minRounds}`));
  });

  it("has per-backend rows, judged like the rest", () => {
    const base = (share1: number, p99: number) =>
      makeResult({
        backends: {
          header: "X-Served-By",
          entries: [
            { name: "web1", count: share1 * 10, sharePct: share1, latency: latency(p99) },
            { name: "web2", count: (100 - share1) * 10, sharePct: 100 - share1, latency: latency(150_000) },
          ],
          minSharePct: Math.min(share1, 100 - share1),
          unlabeled: 0,
        },
      });
    const a = mergeRounds([50, 51, 49, 50, 50.5, 49.5].map((s, i) => base(s, 150_000 + i * 1000)));
    const b = mergeRounds([80, 81, 79, 80, 80.5, 79.5].map((s, i) => base(s, 400_000 + i * 1000)));
    const c = compareResults(a, b);
    const web1 = c.rows.filter((r) => r.group === "backend" && r.metric.startsWith("web1"));
    expect(web1.map((r) => [r.metric, r.verdict])).toEqual([
      ["web1 share", "changed"],
      ["web1 p50", "worse"],
      ["web1 p99", "worse"],
    ]);
    expect(formatCompareText(c)).toMatch(/Per backend\n.*\n.*\nweb1 share/);
    const md = formatCompareMarkdown(c);
    expect(md).toMatch(/^### labgate bench compare/);
    expect(md).toContain("🔴 **Worse beyond noise:** web1 p50, web1 p99");
    expect(md).toContain("**Per backend**");
    expect(md).toMatch(/\| web1 share \| 50% \| 80% \|/);
  });

  it("flags at most 1 of 20 same-configuration pairs (and ≤ 3% of 1000), yet sees a 10% shift", () => {
    const random = seeded(2026);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    // A round's conditions drift as a whole (shared factor) and each metric wobbles on its own.
    const base = makeResult();
    const round = (scale: number): BenchResult => {
      const shared = 1 + 0.04 * gauss();
      const p99 = Math.round(20_000 * scale * shared * (1 + 0.03 * gauss()));
      return {
        ...base,
        latency: latency(p99, { p50Us: Math.round(5_000 * scale * shared * (1 + 0.01 * gauss())) }),
        throughput: {
          rps: Math.round(10_000 / scale / shared),
          bytesPerSec: Math.round(1e6 / scale / shared),
          bytes: 1e7,
        },
        jitter: {
          meanAbsDiffUs: Math.round(800 * shared * (1 + 0.05 * gauss())),
          stddevUs: 1,
          spreadP99P50Us: 1,
          definition: "",
        },
      };
    };
    const run = (scale: number) => {
      const rounds = Array.from({ length: 6 }, (_, i) => summarizeRound(round(scale), i + 1, i * 11));
      return { ...base, rounds };
    };
    const flagged = (c: ReturnType<typeof compareResults>) => c.rows.some((r) => r.significant === true);
    // The criterion (≤ 1 in 20); the long-run rate is checked over 1000 more pairs below.
    let falseAlarms20 = 0;
    for (let i = 0; i < 20; i++) if (flagged(compareResults(run(1), run(1)))) falseAlarms20++;
    expect(falseAlarms20).toBeLessThanOrEqual(1);
    let falseAlarms1000 = 0;
    for (let i = 0; i < 1000; i++) if (flagged(compareResults(run(1), run(1)))) falseAlarms1000++;
    // 5% is the design limit (Benjamini-Hochberg at 0.05 when nothing changed); this model sits near 1.5%.
    expect(falseAlarms1000).toBeLessThanOrEqual(30);
    let seen = 0;
    for (let i = 0; i < 20; i++) {
      const c = compareResults(run(1), run(1.1));
      if (c.rows.find((r) => r.metric === "p50")?.verdict === "worse") seen++;
    }
    expect(seen).toBeGreaterThanOrEqual(15);
  });

  it("warns when the runs come from different labs or environments", () => {
    const env = makeResult({
      environment: {
        commandLine: ["labgate", "bench", "run"],
        labgateVersion: "0.1.0",
        node: "v20.20.0",
        os: { platform: "linux", release: "6.1", arch: "x64" },
        cpus: { count: 2, model: "cpu" },
        engine: "undici",
        workers: 2,
        hostname: "h",
        lab: { provider: "lxd", topology: "1 LB + 2 apps", haproxyConfigSha256: "a".repeat(64) },
      },
    });
    const other = makeResult({
      environment: {
        ...env.environment!,
        cpus: { count: 4, model: "cpu" },
        lab: { ...env.environment!.lab!, haproxyConfigSha256: "b".repeat(64) },
      },
    });
    const w = compareResults(env, other).warnings.join("\n");
    expect(w).toMatch(/HAProxy configurations \(sha256\) differ \(aaaaaaaaaaaa vs bbbbbbbbbbbb\)/);
    expect(w).toMatch(/CPU counts differ \(2 vs 4\)/);
    expect(compareResults(env, env).warnings.join("\n")).not.toMatch(/differ/);
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
    const dir = await tempDir("labgate-compare-old-");
    const old = makeResult() as unknown as { options: Record<string, unknown> };
    delete old.options["body"];
    await writeFile(join(dir, "old.json"), JSON.stringify(old));
    const back = await readResultFile(join(dir, "old.json"));
    expect(back.options.body).toBeNull();
    expect(compareResults(back, makeResult()).warnings.join("\n")).not.toMatch(/different requests/);
  });

  it("round-trips through result.json and rejects files that are not results", async () => {
    const dir = await tempDir("labgate-compare-");
    const files = await writeReports(makeResult(), join(dir, "a"));
    const back = await readResultFile(files.resultJson);
    expect(back.latency.p99Us).toBe(200_000);
    expect(compareResults(back, back).rows.every((r) => r.verdict === "unknown")).toBe(true);

    await writeFile(join(dir, "other.json"), JSON.stringify({ hello: 1 }));
    await writeFile(join(dir, "broken.json"), "{");
    await expect(readResultFile(join(dir, "other.json"))).rejects.toThrow(/not a labgate bench result/);
    await expect(readResultFile(join(dir, "broken.json"))).rejects.toThrow(BenchFileError);
    await expect(readResultFile(join(dir, "missing.json"))).rejects.toThrow(/ENOENT/);
  });
});

/** mulberry32: the same pseudo-random sequence on every run, so the test is deterministic. */
function seeded(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
