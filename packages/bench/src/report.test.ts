import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeHistogram, mergeEncodedHistograms } from "./histogram.js";
import { runBench } from "./run-bench.js";
import { parseSlos } from "./slo.js";
import { withReportPage } from "./test-support/report-browser.js";
import { startTarget, type Target } from "./test-support/target.js";
import type { BenchResult } from "./types.js";
import { type WrittenReports, writeReports } from "./write-reports.js";

describe("reports", () => {
  let target: Target;
  let result: BenchResult;
  let files: WrittenReports;
  let dir: string | undefined;

  beforeAll(async () => {
    target = await startTarget({ backends: ["web1", "web2"], stallEvery: 97, stallMs: 30 });
    result = await runBench({
      url: target.url,
      rate: 200,
      connections: 4,
      warmupMs: 300,
      durationMs: 1500,
      // One SLO that cannot pass at 200 req/s between two that cannot fail on an alternating
      // loopback target: the verdicts rendered below do not depend on how loaded the machine is.
      slos: parseSlos(["errors<1%", "rps>=1000", "backend_share>=40%"]),
    });
    dir = await mkdtemp(join(tmpdir(), "labgate-report-"));
    files = await writeReports(result, join(dir, "nested", "out"));
  });
  afterAll(async () => {
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes result.json with histograms that decode to the reported numbers", async () => {
    const saved = JSON.parse(await readFile(files.resultJson, "utf8")) as BenchResult;
    expect(saved.schema).toBe("labgate.bench.result/v1");
    expect(saved.slos.map((s) => s.pass)).toEqual([true, false, true]);
    const h = decodeHistogram(saved.histograms.latency);
    expect(h.totalCount).toBe(saved.latency.count);
    expect(h.getValueAtPercentile(99)).toBe(saved.latency.p99Us);
    const merged = mergeEncodedHistograms(Object.values(saved.histograms.perBackend));
    expect(merged.totalCount).toBe(saved.backends.entries.reduce((s, b) => s + b.count, 0));
    expect((await stat(files.resultJson)).mode & 0o777).toBe(0o644);
  });

  it("writes report.md with tables and the jitter definition", async () => {
    const md = await readFile(files.reportMd, "utf8");
    expect(md).toMatch(/\| p50 \| p90 \|/);
    expect(md).toContain("service time (from actual send)");
    expect(md).toContain("rps>=1000");
    expect(md).toContain("FAIL");
    expect(md).toMatch(/mean absolute difference/);
    expect(md).toContain("web2");
  });

  it("writes a self-contained report.html that renders in headless Chromium without errors", async () => {
    const html = await readFile(files.reportHtml, "utf8");
    // Self-contained: no scripts, stylesheets, images or fonts to fetch.
    expect(html).not.toMatch(/<script|<link|<img|\ssrc=|url\(/i);
    expect(html.match(/<svg/g)?.length).toBeGreaterThanOrEqual(4);
    expect(html).toContain("rps&gt;=1000");
    await withReportPage(files.reportHtml, async (page, watch) => {
      expect(await page.locator("svg").count()).toBeGreaterThanOrEqual(4);
      expect(await page.locator("svg path").count()).toBeGreaterThanOrEqual(4);
      expect(await page.locator("td.fail").count()).toBe(1);
      expect(await page.locator("td.pass").count()).toBe(2);
      const box = await page.locator("svg").first().boundingBox();
      expect(box?.width).toBeGreaterThan(300);
      const shot = await page.screenshot({ fullPage: true });
      expect(shot.length).toBeGreaterThan(20_000);
      expect(watch.problems).toEqual([]);
      expect(watch.network).toEqual([]);
    });
  });
});
