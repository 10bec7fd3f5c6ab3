import { RampSchedule } from "./stages.js";
import type { Stage } from "./types.js";

/** How often an engine thread looks whether the ramp wants more of its connections open. */
export const CONNECTION_RAMP_TICK_MS = 10;

/** A closed loop's connection ramp as one engine thread runs it (k6 ramping-vus). */
export interface ConnectionRampSpec {
  /** Connections during the warm-up and at the start of the first stage. */
  startConnections: number;
  warmupMs: number;
  stages: Stage[];
  /** This thread holds the run's connections offset, offset + stride, offset + 2·stride ... */
  offset: number;
  stride: number;
}

/**
 * Which of one thread's connections run at a given time. The run wants ⌊target(t)⌋ connections
 * (the target moving linearly within each stage, as k6's ramping-vus); connection g of the run
 * runs while g < that number, and the run's connections are dealt round-robin to the threads, so
 * every thread's share rises and falls with the ramp at the same moments.
 */
export class ConnectionRamp {
  private readonly schedule: RampSchedule;

  constructor(
    private readonly spec: ConnectionRampSpec,
    private readonly runStartMs: number,
  ) {
    this.schedule = new RampSchedule(spec.startConnections, [
      { durationMs: spec.warmupMs, target: spec.startConnections },
      ...spec.stages,
    ]);
  }

  /** Connections the whole run wants at `nowMs` (performance.now()). */
  total(nowMs: number): number {
    return Math.floor(this.schedule.targetAt(nowMs - this.runStartMs) + 1e-9);
  }

  /** How many of this thread's connections run at `nowMs`: its slots 0 … n−1. */
  local(nowMs: number): number {
    const total = this.total(nowMs);
    return total <= this.spec.offset ? 0 : Math.ceil((total - this.spec.offset) / this.spec.stride);
  }
}
