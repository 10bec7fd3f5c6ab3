import { describe, expect, it } from "vitest";
import { BenchOptionError } from "./errors.js";
import { parseStages, RampSchedule } from "./stages.js";

describe("parseStages", () => {
  it("reads k6-style DURATION:TARGET lists", () => {
    expect(parseStages("30s:500,60s:500,30s:0")).toEqual([
      { durationMs: 30_000, target: 500 },
      { durationMs: 60_000, target: 500 },
      { durationMs: 30_000, target: 0 },
    ]);
    expect(parseStages(" 1m30s:2.5 ")).toEqual([{ durationMs: 90_000, target: 2.5 }]);
  });

  it.each([
    ["", /empty stage/],
    ["30s:500,,10s:0", /empty stage/],
    ["30s", /stage 1 "30s" is not DURATION:TARGET/],
    ["30s:500,10x:0", /stage 2 duration/],
    ["30s:-5", /stage 1 target "-5" is not a number/],
    ["30s:fast", /target "fast"/],
    ["0s:100", /lasts no time/],
  ])("rejects %j with a clear exit-2 error", (text, message) => {
    expect(() => parseStages(text)).toThrow(BenchOptionError);
    expect(() => parseStages(text)).toThrow(message);
  });
});

describe("RampSchedule", () => {
  it("is the plain constant-rate schedule for a flat stage", () => {
    const s = new RampSchedule(200, [{ durationMs: 1000, target: 200 }]);
    expect([0, 1, 2, 199].map((n) => s.arrivalMs(n))).toEqual([0, 5, 10, 995]);
    expect(s.arrivalMs(200)).toBe(Number.POSITIVE_INFINITY);
    expect(s.totalArrivals).toBe(200);
  });

  it("ramps linearly (k6 ramping-arrival-rate): 0 → 100/s over 10 s sends 500, the n-th at √(n/5) s", () => {
    const s = new RampSchedule(0, [{ durationMs: 10_000, target: 100 }]);
    expect(s.totalArrivals).toBe(500);
    for (const n of [1, 20, 125, 499]) expect(s.arrivalMs(n)).toBeCloseTo(Math.sqrt(n / 5) * 1000, 6);
    expect(s.targetAt(2500)).toBe(25);
  });

  it("follows 30s:500,60s:500,30s:0 from --rate 100: counts per stage and the target over time", () => {
    const s = new RampSchedule(100, [
      { durationMs: 30_000, target: 500 },
      { durationMs: 60_000, target: 500 },
      { durationMs: 30_000, target: 0 },
    ]);
    expect(s.totalMs).toBe(120_000);
    expect(s.totalArrivals).toBe(9_000 + 30_000 + 7_500);
    const times = Array.from({ length: 46_500 }, (_, n) => s.arrivalMs(n));
    const inWindow = (from: number, to: number) => times.filter((t) => t >= from && t < to).length;
    expect(inWindow(0, 30_000)).toBe(9_000);
    expect(inWindow(30_000, 90_000)).toBe(30_000);
    expect(inWindow(90_000, 120_000)).toBe(7_500);
    // The achieved rate over each second is the target at its middle (linear ramp), to one request.
    for (const sec of [0, 14, 29, 45, 95, 118]) {
      expect(
        Math.abs(inWindow(sec * 1000, sec * 1000 + 1000) - s.targetAt(sec * 1000 + 500)),
      ).toBeLessThanOrEqual(1);
    }
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect([0, 15_000, 30_000, 60_000, 105_000, 120_000].map((t) => s.targetAt(t))).toEqual([
      100, 300, 500, 500, 250, 0,
    ]);
  });

  it("skips stages that carry nothing (0 → 0) and resumes after them", () => {
    const s = new RampSchedule(0, [
      { durationMs: 1000, target: 0 },
      { durationMs: 1000, target: 10 },
    ]);
    expect(s.totalArrivals).toBe(5);
    expect(s.arrivalMs(0)).toBe(1000);
    expect(s.arrivalMs(1)).toBeCloseTo(1000 + Math.sqrt(1 / 5) * 1000, 6);
  });
});
