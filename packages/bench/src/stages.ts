import { parseDuration } from "./duration.js";
import { BenchOptionError } from "./errors.js";

import type { Stage } from "./types.js";

export type { Stage };

export const MAX_STAGES = 100;

/**
 * Parses `--stages 30s:500,60s:500,30s:0` (k6's stages: duration:target, comma-separated). Every
 * stage ramps linearly from the previous target (the first from --rate, or 0) to its own.
 */
export function parseStages(text: string, flag = "--stages"): Stage[] {
  const items = text.split(",").map((s) => s.trim());
  if (!text.trim() || items.some((s) => s === "")) {
    throw new BenchOptionError(
      `${flag} "${text}" has an empty stage.`,
      `Give comma-separated DURATION:TARGET stages, e.g. ${flag} 30s:500,60s:500,30s:0.`,
      { stages: text },
    );
  }
  if (items.length > MAX_STAGES) {
    throw new BenchOptionError(
      `${flag} has ${items.length} stages; at most ${MAX_STAGES} are accepted.`,
      "Merge stages with the same slope, or split the test into several runs.",
      { stages: items.length },
    );
  }
  const stages = items.map((item, i) => {
    const match = /^([^:]+):(.+)$/.exec(item);
    if (!match) {
      throw new BenchOptionError(
        `${flag} stage ${i + 1} "${item}" is not DURATION:TARGET.`,
        `Write each stage as a duration and a target, e.g. 30s:500 (ramp to 500 over 30 s).`,
        { stage: item },
      );
    }
    const durationMs = parseDuration(match[1]!, `${flag} stage ${i + 1} duration`);
    const targetText = match[2]!.trim();
    const target = Number(targetText);
    if (!/^\d+(\.\d+)?$/.test(targetText) || !Number.isFinite(target) || target > 1_000_000) {
      throw new BenchOptionError(
        `${flag} stage ${i + 1} target "${targetText}" is not a number from 0 to 1000000.`,
        "Give the rate (requests/s) or connection count to reach at the end of the stage, e.g. 30s:500.",
        { stage: item },
      );
    }
    return { durationMs, target };
  });
  if (stages.every((s) => s.durationMs === 0)) {
    throw new BenchOptionError(
      `${flag} "${text}" lasts no time at all.`,
      "Give at least one stage a duration, e.g. 30s:500.",
      { stages: text },
    );
  }
  return stages;
}

/**
 * The arrival times of a ramping arrival rate (k6 ramping-arrival-rate): the rate moves linearly
 * within each stage, so the count of arrivals N(t) is piecewise quadratic; the n-th arrival (from 0)
 * is due when N(t) = n. A constant rate r gives n / r, the plain constant-rate schedule.
 */
export class RampSchedule {
  private readonly starts: number[] = [];
  private readonly cumulative: number[] = [];
  readonly totalMs: number;
  /** Arrivals over the whole schedule. */
  readonly totalArrivals: number;

  constructor(
    private readonly startRate: number,
    private readonly stages: readonly Stage[],
  ) {
    let t = 0;
    let n = 0;
    let from = startRate;
    for (const s of stages) {
      this.starts.push(t);
      this.cumulative.push(n);
      n += ((from + s.target) / 2) * (s.durationMs / 1000);
      t += s.durationMs;
      from = s.target;
    }
    this.totalMs = t;
    this.totalArrivals = n;
  }

  /** The target at `tMs` since the start (the rate of arrivals, or connections for a closed loop). */
  targetAt(tMs: number): number {
    let from = this.startRate;
    for (let i = 0; i < this.stages.length; i++) {
      const s = this.stages[i]!;
      const start = this.starts[i]!;
      if (tMs < start + s.durationMs) {
        const share = s.durationMs > 0 ? Math.max(0, tMs - start) / s.durationMs : 1;
        return from + (s.target - from) * share;
      }
      from = s.target;
    }
    return from;
  }

  /**
   * Arrivals due before `tMs` since the start: N(t), the integral of the target rate. The count of
   * requests a correct open-loop generator can have had answered by then (answers are never early).
   */
  arrivalsUntil(tMs: number): number {
    if (tMs <= 0) return 0;
    let n = 0;
    let from = this.startRate;
    for (let i = 0; i < this.stages.length; i++) {
      const s = this.stages[i]!;
      const start = this.starts[i]!;
      if (tMs < start + s.durationMs) {
        const seconds = (tMs - start) / 1000;
        const rateAtT = from + (s.target - from) * ((tMs - start) / s.durationMs);
        return n + ((from + rateAtT) / 2) * seconds;
      }
      n = this.cumulative[i]! + ((from + s.target) / 2) * (s.durationMs / 1000);
      from = s.target;
    }
    return this.totalArrivals;
  }

  /** Milliseconds since the start at which arrival `n` (0-based) is due; Infinity past the last stage. */
  arrivalMs(n: number): number {
    if (n >= this.totalArrivals - 1e-9) return Number.POSITIVE_INFINITY;
    let i = this.cumulative.length - 1;
    while (i > 0 && this.cumulative[i]! > n) i--;
    // Skip stages that carry no arrivals (0 → 0, or zero length).
    let from = i === 0 ? this.startRate : this.stages[i - 1]!.target;
    for (; i < this.stages.length; i++) {
      const s = this.stages[i]!;
      const left = n - this.cumulative[i]!;
      const seconds = s.durationMs / 1000;
      const inStage = ((from + s.target) / 2) * seconds;
      if (left < inStage || i === this.stages.length - 1) {
        const slope = seconds > 0 ? (s.target - from) / seconds : 0;
        // from·t + slope·t²/2 = left, solved in the form that stays exact when slope → 0.
        const t =
          left <= 0 ? 0 : (2 * left) / (from + Math.sqrt(Math.max(0, from * from + 2 * slope * left)));
        return this.starts[i]! + Math.min(t * 1000, s.durationMs);
      }
      from = s.target;
    }
    return Number.POSITIVE_INFINITY;
  }
}
