import { describe, expect, it } from "vitest";
import { type RawBucket, Recorder } from "./recorder.js";
import { arrivalSchedule, impossibleSeries } from "./series-check.js";
import { RampSchedule } from "./stages.js";
import type { SeriesPoint } from "./types.js";

const point = (tSec: number, rps: number): SeriesPoint => ({
  tSec,
  warmup: false,
  rps,
  bytesPerSec: 0,
  errors: 0,
  meanUs: 0,
  p50Us: 0,
  p90Us: 0,
  p95Us: 0,
  p99Us: 0,
  p999Us: 0,
  maxUs: 0,
  jitterUs: 0,
});

describe("RampSchedule.arrivalsUntil", () => {
  it("counts the arrivals due before t, as arrivalMs places them", () => {
    const ramp = new RampSchedule(100, [
      { durationMs: 500, target: 100 },
      { durationMs: 1000, target: 300 },
      { durationMs: 700, target: 0 },
    ]);
    for (const t of [0, 1, 250, 499.5, 500, 777, 1000, 1499, 1500, 1800, 2200, 5000]) {
      let due = 0;
      while (ramp.arrivalMs(due) < t) due++;
      expect(Math.max(0, Math.ceil(ramp.arrivalsUntil(t) - 1e-9)), `t=${t}`).toBe(due);
    }
  });
});

describe("impossibleSeries", () => {
  const options = {
    rate: 100,
    stages: [
      { durationMs: 1000, target: 100 },
      { durationMs: 1000, target: 300 },
    ],
    warmupMs: 0,
    durationMs: 2000,
    connections: 8,
  };

  it("accepts what an open loop can do: answers at or after their requests were due", () => {
    expect(impossibleSeries(options, { intervalMs: 1000, points: [point(0, 100), point(1, 200)] })).toEqual(
      [],
    );
    // Late answers move to later intervals: still possible.
    expect(
      impossibleSeries(options, { intervalMs: 1000, points: [point(0, 40), point(1, 230), point(2, 30)] }),
    ).toEqual([]);
  });

  it("refuses more answers by an interval's end than requests were due by then (the lost ramp shape)", () => {
    const [note] = impossibleSeries(options, { intervalMs: 1000, points: [point(0, 300)] });
    expect(note).toMatch(/300 responses by 1 s since the start, when only 100 requests were due/);
  });

  it("counts the warm-up at the start rate", () => {
    const constant = { rate: 50, stages: null, warmupMs: 1000, durationMs: 1000, connections: 8 };
    expect(arrivalSchedule(constant)!.arrivalsUntil(2000)).toBe(100);
    expect(impossibleSeries(constant, { intervalMs: 1000, points: [point(0, 50), point(1, 50)] })).toEqual(
      [],
    );
    expect(impossibleSeries(constant, { intervalMs: 1000, points: [point(0, 75)] })).toHaveLength(1);
  });

  it("closed loop: an interval's latencies cannot add up to more than its connections could hold", () => {
    const closed = { rate: null, stages: null, warmupMs: 0, durationMs: 2000, connections: 8 };
    const timed = (tSec: number, rps: number, meanUs: number, maxUs: number) => ({
      ...point(tSec, rps),
      meanUs,
      maxUs,
    });
    // 8 connections always busy on 10 ms answers: 800/s, 8 connection-seconds a second.
    const busy = [timed(0, 800, 10_000, 20_000), timed(1, 800, 10_000, 20_000)];
    expect(impossibleSeries(closed, { intervalMs: 1000, points: busy })).toEqual([]);
    // Both seconds' answers merged into the first: 16 s of latency in 1.02 s × 8 connections.
    const [note] = impossibleSeries(closed, {
      intervalMs: 1000,
      points: [timed(0, 1600, 10_000, 20_000), timed(1, 0, 0, 0)],
    });
    expect(note).toMatch(
      /1600 responses of the interval at 0 s add up to 16 s of latency, more than 8 connection/,
    );
    // A long answer may have started in the interval before: its latency counts against the interval too.
    expect(
      impossibleSeries(closed, { intervalMs: 1000, points: [timed(0, 4, 1_900_000, 2_000_000)] }),
    ).toEqual([]);
    // Coalesced intervals average rates and latencies: no sum to check.
    expect(impossibleSeries(closed, { intervalMs: 2000, points: [timed(0, 1600, 10_000, 20_000)] })).toEqual(
      [],
    );
  });
});

describe("merging engine threads' intervals", () => {
  it("puts each thread's interval into the same interval of the run, whatever the start time's floating-point value", () => {
    // (8191.123456789 + 1000) − 8191.123456789 is 999.9999999999991 in doubles: merging by time put
    // the answers of second 1 into second 0 (about 1 run in 8 with two threads).
    const runStartMs = 8191.123456789;
    expect(runStartMs + 1000 - runStartMs).toBeLessThan(1000);
    const parent = new Recorder({ runStartMs, warmupEndMs: runStartMs });
    const buckets: RawBucket[] = [];
    const threads = [0, 1].map(
      () => new Recorder({ runStartMs, warmupEndMs: runStartMs, onBucket: (b) => buckets.push(b) }),
    );
    // 100 answers in second 0 and 200 in second 1, alternating between the threads.
    for (let i = 0; i < 300; i++) {
      const at = runStartMs + (i < 100 ? i * 10 + 5 : 1000 + (i - 100) * 5 + 2);
      threads[i % 2]!.recordResponse(at - 1, at, 1000, 200, 10, undefined);
    }
    for (const t of threads) {
      t.advance(runStartMs + 2000);
      t.flushRemaining();
    }
    for (const b of buckets.sort((x, y) => x.tStartMs - y.tStartMs)) parent.addBucket(b);
    const { series } = parent.finish(2000);
    expect(series.points.map((p) => [p.tSec, p.rps])).toEqual([
      [0, 100],
      [1, 200],
    ]);
  });
});
