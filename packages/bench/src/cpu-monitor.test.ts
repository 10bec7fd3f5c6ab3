import { describe, expect, it } from "vitest";
import { startCpuMonitor } from "./cpu-monitor.js";

describe("startCpuMonitor", () => {
  it("flags a generator that kept its core busy", () => {
    const monitor = startCpuMonitor();
    const until = performance.now() + 300;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    const report = monitor.stop();
    expect(x).toBeGreaterThan(0);
    // CPU time can fall short of wall time when other processes share the cores; the event loop
    // was busy all along either way.
    expect(report.eventLoopUtilizationPercent).toBeGreaterThanOrEqual(95);
    expect(report.saturated).toBe(true);
    expect(report.trustworthy).toBe(false);
    expect(report.notes.join(" ")).toMatch(/bottleneck/);
  });

  it("trusts an idle generator", async () => {
    const monitor = startCpuMonitor();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = monitor.stop();
    expect(report.cpuPercent).toBeLessThan(50);
    expect(report.eventLoopUtilizationPercent).toBeLessThan(50);
    expect(report.saturated).toBe(false);
  });
});
