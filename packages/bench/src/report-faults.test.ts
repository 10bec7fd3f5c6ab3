import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatMicros } from "./duration.js";
import { analyzeFaultWindows } from "./fault-windows/fault-windows.js";
import { formatResultText } from "./format.js";
import { applySlos, parseSlos } from "./slo.js";
import { makeResult, point } from "./test-support/fixtures.js";
import { skipBrowser, withReportPage } from "./test-support/report-browser.js";
import type { BenchResult, FaultRecord, SeriesPoint } from "./types.js";
import { writeReports } from "./write-reports.js";

/**
 * 1 s warm-up + 10 s measured at 100/s over app1 and app2. "stop app2" from 3.2 s to 6.4 s: 30
 * refused connections in second 3, app1 alone until 7 s. "drain app1" from 8.5 s to 9.5 s: app2 alone
 * in second 8, no error. The windows' figures are computed from this series by the bench's own analysis.
 */
function faultyRun(): BenchResult {
  const points: SeriesPoint[] = Array.from({ length: 11 }, (_, t): SeriesPoint => {
    const app2Down = t >= 3 && t < 7;
    const app1Drained = t === 8;
    const p = point(t, 100, app2Down ? 40_000 : 10_000, t === 0);
    const backends: Record<string, number> = app2Down
      ? { app1: 100 }
      : app1Drained
        ? { app2: 100 }
        : { app1: 50, app2: 50 };
    return t === 3
      ? { ...p, errors: 30, errorKinds: { ECONNRESET: 30 }, backends }
      : { ...p, errorKinds: {}, backends };
  });
  const faults: FaultRecord[] = [
    record("stop app2 at 2.2s for 3.2s", "stop", "app2", 3_200, 6_400),
    record("drain app1 at 7.5s for 1s", "drain", "app1", 8_500, 9_500),
  ];
  const base = makeResult();
  const run = makeResult({
    options: { ...base.options, warmupMs: 1000, durationMs: 10_000 },
    measuredMs: 10_000,
    series: { intervalMs: 1000, points },
    backends: {
      ...base.backends,
      entries: base.backends.entries.map((e, i) => ({ ...e, name: i ? "app2" : "app1" })),
    },
    faults,
    faultWindows: analyzeFaultWindows({ intervalMs: 1000, points }, faults.map(windowOf)),
  });
  return applySlos(run, parseSlos(["fault_errors<=10", "detection<2s", "p99<1s"]));
}

function record(fault: string, action: string, target: string, from: number, to: number): FaultRecord {
  return {
    fault,
    action,
    target,
    plannedStartMs: from,
    plannedEndMs: to,
    appliedAtMs: from,
    activeAtMs: from,
    undoneAtMs: to,
    undoReason: "window-end",
    error: null,
  };
}

function windowOf(f: FaultRecord) {
  return { label: f.fault, startMs: f.appliedAtMs!, endMs: f.undoneAtMs! };
}

interface Chart {
  label: string;
  plot: { x: number; y: number; width: number; height: number };
  faults: Array<{ x: number; width: number; title: string }>;
  captions: string[];
  paths: string[];
}

/** Runs in the page (plain JavaScript: the tests are compiled without the DOM library). */
const PAGE = `(() => {
  const box = (e) => { const b = e.getBBox(); return { x: b.x, y: b.y, width: b.width, height: b.height }; };
  const charts = [...document.querySelectorAll("svg")].filter((s) => s.querySelector(".plot-area"));
  const heading = [...document.querySelectorAll("h2")].find((h) => h.textContent === "Fault windows");
  let table = heading ? heading.nextElementSibling : null;
  while (table && table.tagName !== "TABLE") table = table.nextElementSibling;
  return {
    charts: charts.map((svg) => ({
      label: svg.getAttribute("aria-label") || "",
      plot: box(svg.querySelector(".plot-area")),
      faults: [...svg.querySelectorAll("rect.fault")].map((r) => ({
        x: Number(r.getAttribute("x")),
        width: Number(r.getAttribute("width")),
        title: r.querySelector("title").textContent,
      })),
      captions: [...svg.querySelectorAll(".shade-caption")].map((t) => t.textContent),
      paths: [...svg.querySelectorAll("path[stroke] title")].map((t) => t.textContent),
    })),
    header: table ? [...table.querySelectorAll("th")].map((c) => c.textContent) : [],
    rows: table ? [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((c) => c.textContent)) : [],
  };
})()`;

describe("fault windows in the reports", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("report.html: every time chart shades each fault window at its x, labelled; the fault table shows the result's figures; a share-over-time chart", async () => {
    const r = faultyRun();
    const dir = await mkdtemp(join(tmpdir(), "labgate-report-faults-"));
    dirs.push(dir);
    const files = await writeReports(r, dir);
    const windows = r.faultWindows!;

    // report.md and the terminal carry the same table (built by the same code as the HTML's).
    const md = await readFile(files.reportMd, "utf8");
    const text = formatResultText(r);
    for (const w of windows) {
      const cells = [w.label, `${w.errors} (${w.errorSharePct}%)`, formatMicros(w.detectionMs! * 1000)];
      expect(md).toContain(`| ${cells[0]} |`);
      for (const c of cells) expect(text).toContain(c);
    }
    if (skipBrowser) return;
    const got = (await withReportPage(
      files.reportHtml,
      async (page) => (await page.evaluate(PAGE)) as { charts: Chart[]; header: string[]; rows: string[][] },
    ))!;

    // Every chart over time (all but the percentile distribution) shades both windows where they were.
    const timeCharts = got.charts.filter((c) => !c.label.startsWith("Latency by percentile"));
    expect(timeCharts.map((c) => c.label)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Latency per interval/),
        expect.stringMatching(/^Responses and errors per second/),
        expect.stringMatching(/^Share of responses per backend/),
      ]),
    );
    const endSec = (r.options.warmupMs + r.measuredMs) / 1000;
    for (const chart of timeCharts) {
      const xOf = (ms: number) => chart.plot.x + (ms / 1000 / endSec) * chart.plot.width;
      expect(
        chart.faults.map((f) => f.title),
        chart.label,
      ).toEqual(windows.map((w) => w.label));
      chart.faults.forEach((f, i) => {
        const w = windows[i]!;
        expect(f.x, `${chart.label}: ${w.label} start`).toBeCloseTo(xOf(w.startMs), 0);
        expect(f.x + f.width, `${chart.label}: ${w.label} end`).toBeCloseTo(xOf(w.endMs), 0);
      });
      expect(chart.captions).toEqual(windows.map((w) => w.label));
    }
    const share = timeCharts.find((c) => c.label.startsWith("Share of responses per backend"))!;
    expect(share.paths).toEqual(["app1", "app2"]);

    // The fault table: one row per window, its cells the window's own figures.
    expect(got.header.slice(0, 3)).toEqual(["fault", "window", "errors"]);
    expect(got.rows).toHaveLength(windows.length);
    got.rows.forEach((row, i) => {
      const w = windows[i]!;
      const cell = (name: string) => row[got.header.indexOf(name)];
      expect(cell("fault")).toBe(w.label);
      expect(cell("errors")).toBe(`${w.errors} (${w.errorSharePct}%)`);
      expect(cell("p99 in/before")).toBe(`${formatMicros(w.p99Us)} / ${formatMicros(w.baselineP99Us)}`);
      expect(cell("max")).toBe(formatMicros(w.maxUs));
      expect(cell("detection")).toBe(w.detectionMs === null ? "none" : formatMicros(w.detectionMs * 1000));
      expect(cell("recovery")).toBe(w.recoveryMs === null ? "never" : formatMicros(w.recoveryMs * 1000));
      expect(cell("error kinds")).toBe(
        Object.entries(w.errorKinds!)
          .map(([k, n]) => `${k}×${n}`)
          .join(" ") || "none",
      );
      expect(cell("served in window")).toBe(w.backends!.map((b) => `${b.name} ${b.sharePct}%`).join(", "));
      // Each window judged alone by the run's fault SLOs (p99<1s is not a fault SLO).
      const verdicts = cell("SLOs in this window")!;
      expect(verdicts).toContain(`fault_errors<=10 ${w.errors <= 10 ? "pass" : "FAIL"}`);
      expect(verdicts).toContain(`detection<2s ${(w.detectionMs ?? 0) < 2000 ? "pass" : "FAIL"}`);
      expect(verdicts).not.toContain("p99<1s");
    });
    // The two windows differ, so the per-window verdicts are not the run's verdict copied.
    expect(windows.map((w) => w.errors > 10)).toEqual([true, false]);
  }, 60_000);
});
