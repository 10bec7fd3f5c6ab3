import { describe, expect, it } from "vitest";
import { startThreadStats, type ThreadStats } from "./thread-stats.js";
import { judgeGenerator, TRUST_LIMITS } from "./trust.js";

const calm: ThreadStats = {
  cpuPercent: 30,
  starvedPercent: 2,
  eventLoopUtilizationPercent: 30,
  eventLoopDelayP99Ms: 2,
};

describe("startThreadStats", () => {
  it("sees a thread that kept its event loop busy", () => {
    const stats = startThreadStats();
    const until = performance.now() + 300;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    const s = stats.stop();
    expect(x).toBeGreaterThan(0);
    // CPU time can fall short of wall time on a shared machine; the loop was busy all along either way.
    expect(s.eventLoopUtilizationPercent).toBeGreaterThanOrEqual(95);
    const report = judgeGenerator({
      engine: "undici",
      mode: "closed-loop",
      processCpuPercent: s.cpuPercent,
      threads: [s],
      generatorLagUs: null,
    });
    expect(report.saturated).toBe(true);
    expect(report.trustworthy).toBe(false);
    expect(report.notes.join(" ")).toMatch(/bottleneck/);
  });

  it("reads the thread's CPU and run-queue wait from the kernel", async () => {
    const startedAt = performance.now();
    const stats = startThreadStats();
    const until = performance.now() + 200;
    while (performance.now() < until);
    const busyMs = performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const s = stats.stop();
    const busyPct = (busyMs / (performance.now() - startedAt)) * 100;
    // Linux schedstat: CPU time of this thread only, wait as a share of wall. While it spins the thread
    // is always either on a CPU or waiting for one, so the two add up to the spinning share of the
    // wall time however busy the machine is (how it splits between them is up to the load).
    expect(s.starvedPercent).not.toBeNull();
    expect(s.cpuPercent).toBeGreaterThan(0);
    expect(s.cpuPercent + s.starvedPercent!, JSON.stringify({ s, busyPct })).toBeGreaterThan(busyPct * 0.8);
    expect(s.cpuPercent).toBeLessThanOrEqual(101);
    expect(s.eventLoopUtilizationPercent).toBeLessThan(95);
  });
});

describe("judgeGenerator", () => {
  const judge = (over: Partial<Parameters<typeof judgeGenerator>[0]>) =>
    judgeGenerator({
      engine: "undici",
      mode: "closed-loop",
      processCpuPercent: 40,
      threads: [calm, calm],
      generatorLagUs: null,
      ...over,
    });

  it("trusts calm threads and reports the busiest", () => {
    const r = judge({ threads: [calm, { ...calm, eventLoopUtilizationPercent: 55, starvedPercent: 7 }] });
    expect(r).toMatchObject({
      trustworthy: true,
      saturated: false,
      workers: 2,
      eventLoopUtilizationPercent: 55,
      starvedPercent: 7,
    });
    expect(r.notes).toEqual([]);
  });

  it("flags a thread kept off its CPU even when its CPU share looks modest", () => {
    const r = judge({ threads: [calm, { ...calm, cpuPercent: 45, starvedPercent: 40 }] });
    expect(r.trustworthy).toBe(false);
    expect(r.saturated).toBe(true);
    expect(r.notes.join(" ")).toMatch(/waited for a CPU 40% of the run/);
  });

  it("flags a lagging event loop", () => {
    const r = judge({ threads: [{ ...calm, eventLoopDelayP99Ms: TRUST_LIMITS.loopDelayMs + 5 }] });
    expect(r.trustworthy).toBe(false);
    expect(r.notes.join(" ")).toMatch(/lagged/);
  });

  it("judges the undici constant-rate loop by its send lag, not by its (polling) busy loop", () => {
    const polling = { ...calm, eventLoopUtilizationPercent: 99 };
    expect(
      judge({ mode: "constant-rate", threads: [polling], generatorLagUs: { p50: 40, p99: 300 } }).trustworthy,
    ).toBe(true);
    const late = judge({
      mode: "constant-rate",
      threads: [polling],
      generatorLagUs: { p50: 1500, p99: 4000 },
    });
    expect(late.trustworthy).toBe(false);
    expect(late.notes.join(" ")).toMatch(/noticed due requests late: lag p50 1500µs/);
    // The same busy loop in closed loop means the generator was the bottleneck.
    expect(judge({ threads: [polling] }).saturated).toBe(true);
  });

  it("keeps the process-CPU rule for the single-threaded autocannon engine", () => {
    expect(judge({ engine: "autocannon", processCpuPercent: 95, threads: [calm] }).saturated).toBe(true);
    expect(judge({ engine: "undici", processCpuPercent: 150, threads: [calm, calm] }).saturated).toBe(false);
  });
});
