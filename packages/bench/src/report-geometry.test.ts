import { describe, expect, it } from "vitest";
import { captureEnvironment } from "./environment.js";
import { latency, makeResult, point } from "./test-support/fixtures.js";
import { withReportPage } from "./test-support/report-browser.js";
import { tempDir } from "./test-support/temp-dir.js";
import { writeReports } from "./write-reports.js";

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface Geometry {
  charts: Array<{
    label: string;
    plot: Box;
    xTicks: Array<{ label: string; x: number }>;
    yTicks: number[];
    legends: Box[];
    outages: number[];
    warmups: number;
    offScale: number;
    paths: Array<{ name: string; d: string }>;
  }>;
  backendHeadings: number;
}

/** Runs in the page (plain JavaScript: the tests are compiled without the DOM library). */
const GEOMETRY = `(() => {
  const charts = [...document.querySelectorAll("svg")].filter((s) => s.querySelector(".plot-area"));
  const box = (e) => { const b = e.getBBox(); return { x: b.x, y: b.y, width: b.width, height: b.height }; };
  return {
    charts: charts.map((svg) => ({
      label: svg.getAttribute("aria-label") || "",
      plot: box(svg.querySelector(".plot-area")),
      xTicks: [...svg.querySelectorAll(".x-tick")].map((t) => ({ label: t.textContent, x: Number(t.getAttribute("x")) })),
      yTicks: [...svg.querySelectorAll("text.tick:not(.x-tick)")].map((t) => Number(t.textContent)),
      legends: [...svg.querySelectorAll(".legend-item")].map(box),
      outages: [...svg.querySelectorAll("rect.outage")].map((r) => Number(r.getAttribute("x"))),
      warmups: svg.querySelectorAll("rect.shade").length,
      offScale: svg.querySelectorAll(".off-scale").length,
      paths: [...svg.querySelectorAll("path[stroke]")].map((p) => ({
        name: p.querySelector("title") ? p.querySelector("title").textContent : "",
        d: p.getAttribute("d") || "",
      })),
    })),
    backendHeadings: [...document.querySelectorAll("h2")].filter((h) => h.textContent.startsWith("Per backend")).length,
  };
})()`;

/**
 * 2 s warm-up with 900 ms outliers, responses stop at 6 s and come back at 8 s, and the run ends at
 * 9.5 s: the last interval covers half a second (50 responses counted over a 1 s bucket = 100/s).
 */
function flawedRun() {
  const points = [
    point(0, 100, 900_000, true),
    point(1, 100, 900_000, true),
    ...[2, 3, 4, 5].map((t) => point(t, 100, 20_000)),
    { ...point(6, 0, 0), errors: 40 },
    { ...point(7, 0, 0), errors: 40 },
    point(8, 100, 20_000),
    point(9, 50, 20_000),
  ];
  const base = makeResult();
  return makeResult({
    options: { ...base.options, warmupMs: 2000, durationMs: 7500, mode: "constant-rate", rate: 100 },
    measuredMs: 7500,
    latency: latency(20_000),
    rate: {
      targetRps: 100,
      achievedSendRps: 100,
      lateSends: 0,
      latePct: 0,
      lateThresholdUs: 10_000,
      sendLagUs: { p50: 10, p99: 50, max: 90 },
      generatorLagUs: { p50: 5, p99: 20, max: 40 },
    },
    series: { intervalMs: 1000, points },
    environment: captureEnvironment(
      { engine: "undici", workers: 2 },
      {
        commandLine: ["labgate", "bench", "run", "--url", "http://127.0.0.1:8080/", "--rate", "100"],
        lab: {
          name: "lab1",
          provider: "lxd",
          topology: "1 LB + 2 apps",
          haproxyConfigSha256: "ab".repeat(32),
        },
      },
    ),
  });
}

/** Opens report.html in headless Chromium (no network) and hands its charts' geometry and text to `check`. */
async function inBrowser(
  reportHtml: string,
  check: (geometry: Geometry, text: string) => void,
): Promise<void> {
  await withReportPage(reportHtml, async (page) =>
    check((await page.evaluate(GEOMETRY)) as Geometry, (await page.locator("body").textContent()) ?? ""),
  );
}

/** Legends sit outside the plot area of every chart. */
function expectLegendsOutside(geometry: Geometry): void {
  for (const chart of geometry.charts) {
    expect(chart.legends.length).toBeGreaterThan(0);
    for (const l of chart.legends) {
      const overlaps =
        l.x < chart.plot.x + chart.plot.width &&
        l.x + l.width > chart.plot.x &&
        l.y < chart.plot.y + chart.plot.height &&
        l.y + l.height > chart.plot.y;
      expect(overlaps, `${chart.label}: legend inside the plot`).toBe(false);
    }
  }
}

/** A closed loop ramping 0 → 4 → 0 connections over 4 s: the series carries the target per interval. */
function connectionRampRun() {
  const base = makeResult();
  const targets = [2, 4, 4, 2];
  return makeResult({
    options: {
      ...base.options,
      mode: "closed-loop",
      rate: null,
      connections: 4,
      durationMs: 4000,
      warmupMs: 0,
      stages: [
        { durationMs: 1000, target: 4 },
        { durationMs: 2000, target: 4 },
        { durationMs: 1000, target: 0 },
      ],
      stagesOf: "connections",
      startConnections: 0,
    },
    measuredMs: 4000,
    rate: null,
    series: {
      intervalMs: 1000,
      target: "connections",
      points: targets.map((target, t) => ({ ...point(t, target * 50, 80_000), target })),
    },
  });
}

describe("report.html geometry in headless Chromium", () => {
  it("one time axis across the run, legends outside plots, y fitted to measured time, partial interval per covered second", async () => {
    const files = await writeReports(flawedRun(), await tempDir("labgate-report-geom-"));
    await inBrowser(files.reportHtml, (geometry, text) => {
      const lat = geometry.charts.find((c) => c.label.startsWith("Latency per interval"))!;
      const rps = geometry.charts.find((c) => c.label.startsWith("Responses per second"))!;
      expect(lat && rps).toBeTruthy();

      // One time axis: same plot area, same ticks at the same places, to the end of the run (9.5 s).
      expect([lat.plot.x, lat.plot.width]).toEqual([rps.plot.x, rps.plot.width]);
      expect(lat.xTicks).toEqual(rps.xTicks);
      expect(lat.xTicks.map((t) => t.label)).toEqual(["0", "2", "4", "6", "8"]);
      const xOf = (sec: number) => lat.plot.x + (sec / 9.5) * lat.plot.width;
      expect(lat.xTicks.at(-1)!.x).toBeCloseTo(xOf(8), 0);
      // The outage (6–8 s) is shaded in both charts at the same place; the latency line breaks there.
      expect(lat.outages).toEqual(rps.outages);
      expect(lat.outages.map((x) => Math.round(x))).toEqual([Math.round(xOf(6)), Math.round(xOf(7))]);
      expect(lat.warmups).toBe(1);
      const p99 = lat.paths.find((p) => p.name === "p99")!;
      expect(p99.d.match(/M/g)?.length).toBe(2);

      expectLegendsOutside(geometry);

      // The y-axis fits the measured time (max 30 ms), not the 900 ms warm-up outliers, which are marked.
      expect(Math.max(...lat.yTicks)).toBeLessThan(100);
      expect(lat.offScale).toBeGreaterThan(0);

      // The last, half-covered interval is drawn at 100/s like the full ones, not as a drop to 50.
      const responses = rps.paths.find((p) => p.name === "responses/s")!;
      const ys = [...responses.d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
      expect(ys.at(-1)).toBeCloseTo(ys[2]!, 1);
      expect(rps.paths.some((p) => p.name === "target rate")).toBe(true);

      expect(geometry.backendHeadings).toBe(1);
      expect(text).toMatch(/command line\s*labgate bench run --url http:\/\/127\.0\.0\.1:8080\/ --rate 100/);
      expect(text).toContain(process.version);
      expect(text).toMatch(/CPUs\s*\d+ ×/);
      expect(text).toMatch(/HAProxy config sha256\s*(ab){32}/);
    });
  });

  it("a connection ramp: target and connections in use on the run's one time axis, per interval", async () => {
    const files = await writeReports(connectionRampRun(), await tempDir("labgate-report-geom-"));
    await inBrowser(files.reportHtml, (geometry) => {
      const lat = geometry.charts.find((c) => c.label.startsWith("Latency per interval"))!;
      const conn = geometry.charts.find((c) => c.label.startsWith("Connections: target and in use"))!;
      expect(lat && conn).toBeTruthy();
      expect([conn.plot.x, conn.plot.width]).toEqual([lat.plot.x, lat.plot.width]);
      expect(conn.xTicks).toEqual(lat.xTicks);
      expectLegendsOutside(geometry);
      // One point per interval, at its middle; y follows the target 2, 4, 4, 2 (larger = higher, smaller y).
      const coords = (name: string) =>
        [...conn.paths.find((p) => p.name === name)!.d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [
          Number(m[1]),
          Number(m[2]),
        ]);
      const target = coords("target connections");
      const xOf = (sec: number) => conn.plot.x + (sec / 4) * conn.plot.width;
      expect(target.map(([x]) => Math.round(x!))).toEqual(
        [0.5, 1.5, 2.5, 3.5].map((t) => Math.round(xOf(t))),
      );
      expect(target[1]![1]).toBeLessThan(target[0]![1]!);
      expect(target[3]![1]).toBeCloseTo(target[0]![1]!, 1);
      // In use = responses/s × mean latency: 100/s × 20 ms = 2 in the first interval, like its target.
      const inUse = coords("in use (responses/s × mean latency)");
      expect(inUse.map(([, y]) => y)).toEqual(target.map(([, y]) => y));
    });
  });
});
