import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeHistogram, mergeEncodedHistograms } from "./histogram.js";
import { runBench } from "./run-bench.js";
import { parseSlos } from "./slo.js";
import { startTarget, type Target } from "./test-support/target.js";
import type { BenchResult } from "./types.js";
import { type WrittenReports, writeReports } from "./write-reports.js";

const CHROMIUM = process.env["LABGATE_CHROMIUM"] ?? "/usr/bin/chromium";
const skipBrowser = process.env["LABGATE_SKIP_BROWSER"] === "1";

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
    expect(html).toContain("rps&#62;=1000");
    if (skipBrowser) return;
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set LABGATE_CHROMIUM; set LABGATE_SKIP_BROWSER=1 to skip this check deliberately.`,
      );
    }
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
      const problems: string[] = [];
      const network: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (!url.startsWith("file:")) {
          network.push(url);
          return route.abort();
        }
        return route.continue();
      });
      await page.goto(pathToFileURL(files.reportHtml).href, { waitUntil: "load" });
      expect(await page.locator("svg").count()).toBeGreaterThanOrEqual(4);
      expect(await page.locator("svg path").count()).toBeGreaterThanOrEqual(4);
      expect(await page.locator("td.fail").count()).toBe(1);
      expect(await page.locator("td.pass").count()).toBe(2);
      const box = await page.locator("svg").first().boundingBox();
      expect(box?.width).toBeGreaterThan(300);
      const shot = await page.screenshot({ fullPage: true });
      expect(shot.length).toBeGreaterThan(20_000);
      expect(problems).toEqual([]);
      expect(network).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
