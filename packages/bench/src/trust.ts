import type { ThreadStats } from "./thread-stats.js";
import type { BenchEngine, BenchMode, GeneratorReport } from "./types.js";

/** Where a generator stops being a neutral observer. Each limit is reported in the note it triggers. */
export const TRUST_LIMITS = {
  /** A load thread whose event loop is busy this share of the time is the bottleneck itself (closed loop). */
  busyPercent: 90,
  /** Share of wall time a load thread waited for a CPU it was ready to use (other processes on its core). */
  starvedPercent: 15,
  /** Event-loop delay p99: timers and response handling ran this late. */
  loopDelayMs: 20,
  /** Constant rate: the generator noticed due requests this late (its own lag, not the target's). */
  generatorLagP50Us: 1000,
  generatorLagP99Us: 10_000,
} as const;

export interface TrustInput {
  engine: BenchEngine;
  mode: BenchMode;
  /** Process CPU over wall time (all threads). */
  processCpuPercent: number;
  threads: ThreadStats[];
  generatorLagUs: { p50: number; p99: number } | null;
}

/**
 * Judges from what saturation does to a run, not from a single CPU figure: a load thread that is
 * busy all the time, one that is kept off its CPU by other processes (a busy loop on its core
 * halves throughput while CPU% looks modest), a lagging event loop, or — in constant rate — sends
 * the generator itself noticed late. Any of these makes the run "not trustworthy".
 */
export function judgeGenerator(input: TrustInput): GeneratorReport {
  const notes: string[] = [];
  const threads = input.threads.length ? input.threads : [];
  const max = (pick: (t: ThreadStats) => number | null): number | null => {
    const values = threads.map(pick).filter((v): v is number => v !== null);
    return values.length ? Math.max(...values) : null;
  };
  const busy = max((t) => t.eventLoopUtilizationPercent) ?? 0;
  const starved = max((t) => t.starvedPercent);
  const loopDelay = max((t) => t.eventLoopDelayP99Ms) ?? 0;
  const spinning = input.engine !== "autocannon" && input.mode === "constant-rate";

  // labgate's engine's constant-rate loop polls between sends, so its loop is busy by design:
  // there the send lag says whether it kept up.
  const selfBound =
    !spinning &&
    (busy >= TRUST_LIMITS.busyPercent ||
      (input.engine === "autocannon" && input.processCpuPercent >= TRUST_LIMITS.busyPercent));
  if (selfBound) {
    notes.push(
      `The generator was saturated (a load thread's event loop busy ${busy}% of the time, process CPU ${input.processCpuPercent}%; limit ${TRUST_LIMITS.busyPercent}%): it may have been the bottleneck, so latency and throughput may describe the generator rather than the target. Use --workers, fewer connections, a --rate, or a separate load machine.`,
    );
  }
  // A polling constant-rate thread is always ready to run, so it always waits on a shared machine;
  // whether that made it late is what its send lag says.
  const starvedFlag = !spinning && starved !== null && starved > TRUST_LIMITS.starvedPercent;
  if (starvedFlag) {
    notes.push(
      `A load thread waited for a CPU ${starved}% of the run (limit ${TRUST_LIMITS.starvedPercent}%): other processes kept the generator off its core, so sends and timings were delayed by the machine, not the target. Stop competing work or pin the generator to a free core.`,
    );
  }
  const lagging = !spinning && loopDelay > TRUST_LIMITS.loopDelayMs;
  if (lagging) {
    notes.push(
      `The generator's event loop lagged ${loopDelay}ms at p99 (limit ${TRUST_LIMITS.loopDelayMs}ms): sends and timings were delayed by the generator itself.`,
    );
  }
  const lag = input.generatorLagUs;
  const lateSends =
    lag !== null && (lag.p50 > TRUST_LIMITS.generatorLagP50Us || lag.p99 > TRUST_LIMITS.generatorLagP99Us);
  if (lateSends && lag) {
    notes.push(
      `The generator noticed due requests late: lag p50 ${lag.p50}µs, p99 ${lag.p99}µs (limits ${TRUST_LIMITS.generatorLagP50Us}µs / ${TRUST_LIMITS.generatorLagP99Us}µs): the schedule was not kept by the generator itself. Lower --rate, add --workers, or free the machine.`,
    );
  }
  const saturated = selfBound || starvedFlag;
  return {
    engine: input.engine,
    workers: threads.length || 1,
    cpuPercent: input.processCpuPercent,
    eventLoopUtilizationPercent: busy,
    eventLoopDelayP99Ms: loopDelay,
    starvedPercent: starved,
    threads: threads.map((t) => ({ ...t })),
    saturated,
    trustworthy: !saturated && !lagging && !lateSends,
    notes,
  };
}
