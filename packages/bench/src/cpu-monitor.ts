import { monitorEventLoopDelay, performance as perf } from "node:perf_hooks";
import type { GeneratorReport } from "./types.js";

/** Above this share of one core the generator, not the target, may be what limits the numbers. */
export const SATURATION_CPU_PERCENT = 90;
const LOOP_DELAY_LIMIT_MS = 20;

/**
 * Watches the load generator itself. Node runs the generator on one thread, so more than ~90% of
 * one core, an event loop that is busy ≥ 90% of the time (event-loop utilization — this also
 * catches a generator starved of CPU by other processes), or a badly lagging event loop means
 * requests were sent and timed late by us, not by the target: such a run is flagged as not trustworthy.
 */
export function startCpuMonitor(): { stop(): GeneratorReport } {
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const eluStart = perf.eventLoopUtilization();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return {
    stop() {
      loop.disable();
      const cpu = process.cpuUsage(cpuStart);
      const wallMs = Math.max(1, performance.now() - wallStart);
      const cpuPercent = Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10;
      const eventLoopDelayP99Ms = Math.round((loop.percentile(99) / 1e6) * 100) / 100;
      const notes: string[] = [];
      const eventLoopUtilizationPercent =
        Math.round(perf.eventLoopUtilization(eluStart).utilization * 1000) / 10;
      const saturated =
        cpuPercent >= SATURATION_CPU_PERCENT || eventLoopUtilizationPercent >= SATURATION_CPU_PERCENT;
      if (saturated) {
        notes.push(
          `The generator was saturated (${cpuPercent}% of one CPU core, event loop busy ${eventLoopUtilizationPercent}% of the time; limit ${SATURATION_CPU_PERCENT}%): it may have been the bottleneck, so latency and throughput may describe the generator rather than the target. Use fewer connections, a --rate, or a bigger/separate load machine.`,
        );
      }
      const lagging = eventLoopDelayP99Ms > LOOP_DELAY_LIMIT_MS;
      if (lagging) {
        notes.push(
          `The generator's event loop lagged ${eventLoopDelayP99Ms}ms at p99 (limit ${LOOP_DELAY_LIMIT_MS}ms): sends and timings were delayed by the generator itself.`,
        );
      }
      return {
        cpuPercent,
        eventLoopUtilizationPercent,
        eventLoopDelayP99Ms,
        saturated,
        trustworthy: !saturated && !lagging,
        notes,
      };
    },
  };
}
