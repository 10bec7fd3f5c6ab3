import { describe, expect, it } from "vitest";
import { formatMicros } from "./duration.js";
import { renderHtmlReport } from "./report-html.js";
import { renderMarkdownReport } from "./report-md.js";
import { seriesTable } from "./series-table.js";
import { loadSchedule, withTargets } from "./series-target.js";
import { makeResult } from "./test-support/fixtures.js";
import type { SeriesPoint } from "./types.js";

const point = (tSec: number, rps: number, meanUs = 10_000): SeriesPoint => ({
  tSec,
  warmup: false,
  rps,
  bytesPerSec: 0,
  errors: 0,
  meanUs,
  p50Us: meanUs,
  p90Us: meanUs,
  p95Us: meanUs,
  p99Us: meanUs * 2,
  p999Us: meanUs * 2,
  maxUs: meanUs * 3,
  jitterUs: 0,
});
const base = { connections: 8, warmupMs: 0, durationMs: 2000 };

describe("each interval's target beside what was achieved", () => {
  it("open loop: the mean target rate of each interval, warm-up included, 0 once the schedule is over", () => {
    const ramp = withTargets(
      {
        ...base,
        mode: "constant-rate",
        rate: 100,
        stages: [
          { durationMs: 1000, target: 100 },
          { durationMs: 1000, target: 300 },
        ],
      },
      { intervalMs: 1000, points: [point(0, 100), point(1, 200), point(2, 3)] },
    );
    expect(ramp.target).toBe("rate");
    // Second 1 ramps 100 → 300: its mean is 200; second 2 only drains.
    expect(ramp.points.map((p) => p.target)).toEqual([100, 200, 0]);
    const constant = withTargets(
      { ...base, mode: "constant-rate", rate: 50, stages: null, warmupMs: 1000, durationMs: 1500 },
      { intervalMs: 1000, points: [point(0, 50), point(1, 50), point(2, 25)] },
    );
    // The last interval is half inside the run: its target is the mean over that half.
    expect(constant.points.map((p) => p.target)).toEqual([50, 50, 50]);
  });

  it("closed loop: the connections, held or ramped (from 0 unless a start is given)", () => {
    const held = withTargets(
      { ...base, mode: "closed-loop", rate: null, stages: null },
      {
        intervalMs: 1000,
        points: [point(0, 800), point(1, 790)],
      },
    );
    expect(held.target).toBe("connections");
    expect(held.points.map((p) => p.target)).toEqual([8, 8]);
    const ramped = withTargets(
      {
        ...base,
        mode: "closed-loop",
        rate: null,
        stagesOf: "connections",
        stages: [
          { durationMs: 2000, target: 10 },
          { durationMs: 1000, target: 0 },
        ],
      },
      { intervalMs: 1000, points: [point(0, 200), point(1, 600), point(2, 400)] },
    );
    expect(ramped.points.map((p) => p.target)).toEqual([2.5, 7.5, 5]);
    const fromFour = loadSchedule({
      ...base,
      mode: "closed-loop",
      rate: null,
      stagesOf: "connections",
      startConnections: 4,
      warmupMs: 500,
      stages: [{ durationMs: 1000, target: 8 }],
    });
    expect([0, 499, 500, 1000, 1500].map((t) => fromFour.schedule.targetAt(t))).toEqual([4, 4, 4, 6, 8]);
  });

  it("reports show the target beside the achieved values: report.md's Over time table, report.html's chart", () => {
    const r = makeResult();
    r.options.mode = "closed-loop";
    r.series = withTargets(
      {
        ...base,
        mode: "closed-loop",
        rate: null,
        stagesOf: "connections",
        stages: [{ durationMs: 2000, target: 10 }],
      },
      { intervalMs: 1000, points: [point(0, 250, 8000), point(1, 0)] },
    );
    r.measuredMs = 2000;
    const table = seriesTable(r)!;
    expect(table.header).toEqual([
      "from (s)",
      "target connections",
      "responses/s",
      "connections in use",
      "errors",
      "p50",
      "p99",
    ]);
    // 250 responses/s × 8 ms = 2 connections in use; an interval without responses shows no latency.
    expect(table.rows).toEqual([
      ["0", "2.5", "250", "2", "0", formatMicros(8000), formatMicros(16_000)],
      ["1", "7.5", "0", "0", "0", "—", "—"],
    ]);
    const md = renderMarkdownReport(r);
    expect(md).toContain("## Over time");
    expect(md).toContain(`| 0 | 2.5 | 250 | 2 | 0 | ${formatMicros(8000)} | ${formatMicros(16_000)} |`);
    const html = renderHtmlReport(r);
    expect(html).toContain("Connections: target and in use");
    expect(html).toMatch(/<title>target connections<\/title>/);
  });

  it("groups a long series into at most 60 rows, keeping the worst p99", () => {
    const r = makeResult();
    r.series = {
      intervalMs: 1000,
      target: "rate",
      points: Array.from({ length: 150 }, (_, i) => ({
        ...point(i, 100, i === 77 ? 50_000 : 1000),
        target: 100,
      })),
    };
    const table = seriesTable(r)!;
    expect(table.rows).toHaveLength(50);
    expect(table.rows[25]).toEqual(["75", "100", "100", "0", "—", formatMicros(100_000)]);
    expect(table.note).toMatch(/groups of 3 × 1 s intervals/);
  });
});
