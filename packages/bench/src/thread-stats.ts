import { readFileSync } from "node:fs";
import { type EventLoopUtilization, monitorEventLoopDelay, performance as perf } from "node:perf_hooks";

/** How one generator thread fared over the run. */
export interface ThreadStats {
  /** CPU time of this thread over wall time; 100% = one core all the time. */
  cpuPercent: number;
  /**
   * Share of wall time the thread was ready to run but waited for a CPU (Linux schedstat run-queue
   * delay): other processes took the core it needed. null where the kernel does not say.
   */
  starvedPercent: number | null;
  eventLoopUtilizationPercent: number;
  eventLoopDelayP99Ms: number;
}

/** cpu and run-queue wait of the calling thread in ns, from /proc/thread-self/schedstat (Linux). */
function schedstat(): [number, number] | null {
  try {
    const [cpu, wait] = readFileSync("/proc/thread-self/schedstat", "utf8").trim().split(/\s+/).map(Number);
    return Number.isFinite(cpu) && Number.isFinite(wait) ? [cpu!, wait!] : null;
  } catch {
    return null;
  }
}

/** Starts watching the calling thread (main or worker); `stop()` returns what it saw. */
export function startThreadStats(): { stop(): ThreadStats } {
  const wallStart = performance.now();
  const schedStart = schedstat();
  // Without schedstat only the whole process's CPU time is known (an upper bound for the thread).
  const cpuStart = process.cpuUsage();
  const eluStart: EventLoopUtilization = perf.eventLoopUtilization();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return {
    stop() {
      loop.disable();
      const wallMs = Math.max(1, performance.now() - wallStart);
      const schedEnd = schedstat();
      let cpuMs: number;
      let starvedPercent: number | null = null;
      if (schedStart && schedEnd) {
        cpuMs = (schedEnd[0] - schedStart[0]) / 1e6;
        starvedPercent = round1(((schedEnd[1] - schedStart[1]) / 1e6 / wallMs) * 100);
      } else {
        const used = process.cpuUsage(cpuStart);
        cpuMs = (used.user + used.system) / 1000;
      }
      return {
        cpuPercent: round1((cpuMs / wallMs) * 100),
        starvedPercent,
        eventLoopUtilizationPercent: round1(perf.eventLoopUtilization(eluStart).utilization * 100),
        eventLoopDelayP99Ms: Math.round((loop.percentile(99) / 1e6) * 100) / 100,
      };
    },
  };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
