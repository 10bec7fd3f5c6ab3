import { describe, expect, it } from "vitest";
import { evaluateSlos, parseSlos } from "../slo.js";
import { makeResult } from "../test-support/fixtures.js";
import type { BenchResult, SeriesPoint } from "../types.js";
import { formatFaultWindows } from "./fault-table.js";
import { analyzeFaultWindows, type FaultWindowStats } from "./fault-windows.js";

function point(tSec: number, over: Partial<SeriesPoint> = {}): SeriesPoint {
  return {
    tSec,
    warmup: false,
    rps: 100,
    bytesPerSec: 0,
    errors: 0,
    meanUs: 1_000,
    p50Us: 1_000,
    p90Us: 1_500,
    p95Us: 1_800,
    p99Us: 2_000,
    p999Us: 3_000,
    maxUs: 4_000,
    jitterUs: 0,
    ...over,
  };
}

describe("analyzeFaultWindows", () => {
  // 0-1 s warm-up; fault 3 s-6 s; errors in 3 s and 4 s; slow until 7 s; baseline again from 7 s.
  const points = [
    point(0, { warmup: true, p99Us: 90_000 }),
    point(1),
    point(2, { p99Us: 2_200 }),
    point(3, { errors: 7, p99Us: 50_000, maxUs: 60_000, p50Us: 1_200 }),
    point(4, { errors: 3, p99Us: 9_000 }),
    point(5, { p99Us: 3_000 }),
    point(6, { p99Us: 5_000 }),
    point(7, { p99Us: 2_300 }),
    point(8),
  ];

  it("counts errors inside the window, compares latency with the baseline before it, times detection and recovery", () => {
    const [w] = analyzeFaultWindows({ intervalMs: 1_000, points }, [
      { label: "stop app2", startMs: 3_050, endMs: 6_050 },
    ]);
    expect(w).toMatchObject({
      errors: 10,
      // 3 s-7 s overlap the window: 4 intervals of 100 answers.
      responses: 400,
      errorSharePct: 2.44,
      p99Us: 50_000,
      maxUs: 60_000,
      // Warm-up (90 ms p99) is never baseline.
      baselineP99Us: 2_100,
      baselineP50Us: 1_000,
      // Last error interval 4 s-5 s ends 1.95 s after the fault started.
      detectionMs: 1_950,
      // 6 s-7 s has p99 5 ms > 1.2 × 2.1 ms; 7 s-8 s is back: 0.95 s after the end.
      recoveryMs: 950,
    });
  });

  it("no error → no detection; never back within 20% → no recovery; text table names both", () => {
    const slow = points.map((p) => (p.tSec >= 3 ? { ...p, errors: 0, p99Us: 9_000 } : p));
    const [w] = analyzeFaultWindows({ intervalMs: 1_000, points: slow }, [
      { label: "drain app2", startMs: 3_000, endMs: 5_000 },
    ]);
    expect(w?.errors).toBe(0);
    expect(w?.detectionMs).toBeNull();
    expect(w?.recoveryMs).toBeNull();
    const text = formatFaultWindows([w!]);
    expect(text).toMatch(/^fault\s+window\s+errors/);
    expect(text).toMatch(
      /drain app2\s+3s-5s\s+0 \(0%\)\s+1\.1ms \/ 1ms\s+9ms \/ 2\.1ms\s+60ms\s+none\s+never/,
    );
  });

  it("sums error kinds and who served inside the window; an HTTP error counts once in the share's base", () => {
    const served = (t: number): Record<string, number> =>
      t >= 3 && t < 5 ? { app1: 100 } : t === 5 ? { app1: 60, app2: 40 } : { app1: 50, app2: 50 };
    const series = points.map((p) => ({
      ...p,
      backends: served(p.tSec),
      // Second 3: 5 refused connections and 2 HTTP 503 answers (which are in rps too); second 4: 3 refused.
      errorKinds:
        p.tSec === 3
          ? { ECONNRESET: 5, "HTTP 503": 2 }
          : p.tSec === 4
            ? { ECONNRESET: 3 }
            : ({} as Record<string, number>),
    }));
    const [w] = analyzeFaultWindows({ intervalMs: 1_000, points: series }, [
      { label: "stop app2", startMs: 3_000, endMs: 5_500 },
    ]);
    expect(w?.errorKinds).toEqual({ ECONNRESET: 8, "HTTP 503": 2 });
    // 3 intervals × 100 responses + 8 transport failures; the two 503s are among the responses.
    expect(w?.attempts).toBe(308);
    expect(w?.errorSharePct).toBe(Math.round((10 / 308) * 10_000) / 100);
    // app2 is listed although it served nothing in 3 s-5 s: 40 of 300 responses, all in second 5.
    expect(w?.backends).toEqual([
      { name: "app1", count: 260, sharePct: Math.round((260 / 300) * 10_000) / 100 },
      { name: "app2", count: 40, sharePct: Math.round((40 / 300) * 10_000) / 100 },
    ]);
    const text = formatFaultWindows([w!]);
    expect(text).toContain("ECONNRESET×8 HTTP 503×2");
    expect(text).toContain("app1 86.67%, app2 13.33%");
  });

  it("leaves other faults' windows out of a later fault's baseline", () => {
    const [, second] = analyzeFaultWindows({ intervalMs: 1_000, points }, [
      { label: "a", startMs: 3_000, endMs: 5_000 },
      { label: "b", startMs: 8_000, endMs: 9_000 },
    ]);
    // 1, 2, 5, 6, 7 s are outside window a: p99 2000, 2200, 3000, 5000, 2300 → median 2300.
    expect(second?.baselineP99Us).toBe(2_300);
  });
});

describe("fault SLO metrics", () => {
  const window = (over: Partial<FaultWindowStats>): FaultWindowStats => ({
    label: "stop app2 at 5s for 10s",
    startMs: 5_000,
    endMs: 15_000,
    responses: 990,
    errors: 10,
    errorSharePct: 1,
    p50Us: 1_000,
    p99Us: 40_000,
    maxUs: 90_000,
    baselineP50Us: 900,
    baselineP99Us: 2_000,
    detectionMs: 2_000,
    recoveryMs: 1_000,
    resolutionMs: 1_000,
    ...over,
  });
  const judge = (slos: string[], faultWindows?: FaultWindowStats[]) =>
    evaluateSlos(
      { ...makeResult(), ...(faultWindows ? { faultWindows } : {}) } as BenchResult,
      parseSlos(slos),
    );

  it("judges fault_errors (count and share), fault_p99, detection and recovery over the worst window", () => {
    const ws = [
      window({}),
      window({ label: "b", errors: 0, responses: 1_000, p99Us: 3_000, detectionMs: null, recoveryMs: 3_000 }),
    ];
    const v = judge(
      [
        "fault_errors<1%",
        "fault_errors<=10",
        "fault_p99<50ms",
        "fault_p99<30ms",
        "detection<=2s",
        "recovery<2s",
      ],
      ws,
    );
    expect(v.map((x) => [x.expression, x.pass, x.actual])).toEqual([
      ["fault_errors<1%", true, 0.5],
      ["fault_errors<=10", true, 10],
      ["fault_p99<50ms", true, 40_000],
      ["fault_p99<30ms", false, 40_000],
      ["detection<=2s", true, 2_000_000],
      ["recovery<2s", false, 3_000_000],
    ]);
  });

  it("fails with a reason when no fault ran or a window never recovered", () => {
    const [none] = judge(["recovery<5s"]);
    expect(none).toMatchObject({ pass: false, note: expect.stringMatching(/no fault ran/) });
    const [never] = judge(["recovery<5s"], [window({ recoveryMs: null })]);
    expect(never).toMatchObject({ pass: false, note: expect.stringMatching(/never recovered/) });
  });
});
