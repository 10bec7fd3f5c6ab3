import { describe, expect, it } from "vitest";
import { decodeHistogram } from "./histogram.js";
import { type RawBucket, Recorder } from "./recorder.js";

describe("Recorder", () => {
  it("computes jitter as the mean absolute difference of consecutive latencies in completion order", () => {
    const rec = new Recorder({ runStartMs: 0, warmupEndMs: 0 });
    // latencies 10, 30, 20, 60 ms → |20| + |10| + |40| = 70 / 3
    const samples: Array<[number, number]> = [
      [0, 10],
      [5, 35],
      [20, 40],
      [30, 90],
    ];
    for (const [start, end] of samples)
      rec.recordResponse(start, end, (end - start) * 1000, 200, 10, undefined);
    const out = rec.finish(1000);
    expect(out.jitter.meanAbsDiffUs).toBeCloseTo(70_000 / 3, 0);
    expect(out.jitter.spreadP99P50Us).toBe(out.latency.p99Us - out.latency.p50Us);
    expect(out.latency.count).toBe(4);
    expect(out.latency.maxUs).toBeGreaterThanOrEqual(59_900);
  });

  it("excludes requests sent during the warm-up but keeps them in the series", () => {
    const rec = new Recorder({ runStartMs: 0, warmupEndMs: 1000 });
    rec.recordFailure(500, 600, "timeout", "ETIMEDOUT");
    for (let t = 0; t < 2000; t += 10) {
      const slow = t < 1000;
      rec.recordResponse(t, t + (slow ? 100 : 1), slow ? 100_000 : 1000, 200, 50, "web1");
    }
    rec.recordFailure(1500, 1600, "error", "ECONNRESET");
    const out = rec.finish(1000);
    expect(out.latency.count).toBe(100);
    expect(out.latency.maxUs).toBeLessThan(1100);
    expect(out.requests.timeouts).toBe(0);
    expect(out.requests.connectionErrors).toBe(1);
    expect(out.requests.errorsByCode).toEqual({ ECONNRESET: 1 });
    expect(out.throughput.rps).toBe(100);
    expect(out.series.points[0]).toMatchObject({ tSec: 0, warmup: true, errors: 1 });
    expect(out.series.points[0]!.p50Us).toBeGreaterThanOrEqual(99_000);
    expect(out.series.points[1]).toMatchObject({ warmup: false, errors: 1 });
  });

  it("counts per backend, unlabeled responses and status classes", () => {
    const rec = new Recorder({ runStartMs: 0, warmupEndMs: 0 });
    for (let i = 0; i < 30; i++) rec.recordResponse(i, i + 1, 1000, 200, 10, "a");
    for (let i = 0; i < 10; i++) rec.recordResponse(i, i + 5, 5000, 200, 10, "b");
    for (let i = 0; i < 10; i++) rec.recordResponse(i, i + 1, 1000, 503, 10, undefined);
    const out = rec.finish(1000);
    expect(out.backends.entries.map((b) => [b.name, b.count, b.sharePct])).toEqual([
      ["a", 30, 60],
      ["b", 10, 20],
    ]);
    expect(out.backends.minSharePct).toBe(20);
    expect(out.backends.unlabeled).toBe(10);
    expect(out.backends.entries[1]!.latency.p50Us).toBeGreaterThanOrEqual(4990);
    expect(out.requests).toMatchObject({
      ok: 40,
      failed: 10,
      non2xx: 10,
      statusCodes: { "200": 40, "503": 10 },
      errorRatePct: 20,
    });
    expect(decodeHistogram(out.encoded.perBackend["b"]!).totalCount).toBe(10);
  });

  it("counts each interval's responses per backend and its errors by kind, warm-up included like rps", () => {
    const rec = new Recorder({ runStartMs: 0, warmupEndMs: 1000 });
    // 0-1 s (warm-up): 6 × a, 4 × b, one 503 from b. 1-2 s: 5 × a, then a is gone: ECONNRESET × 3, a timeout.
    for (let i = 0; i < 6; i++) rec.recordResponse(i * 100, i * 100 + 5, 5000, 200, 10, "a");
    for (let i = 0; i < 4; i++) rec.recordResponse(i * 100 + 50, i * 100 + 55, 5000, i ? 200 : 503, 10, "b");
    for (let i = 0; i < 5; i++) rec.recordResponse(1000 + i * 100, 1000 + i * 100 + 5, 5000, 200, 10, "a");
    for (let i = 0; i < 3; i++) rec.recordFailure(1600 + i, 1700 + i, "error", "ECONNRESET");
    rec.recordFailure(1800, 1900, "timeout", "ETIMEDOUT");
    rec.recordResponse(2100, 2105, 5000, 200, 10, undefined);
    const [p0, p1, p2] = rec.finish(2000).series.points;
    expect(p0).toMatchObject({ warmup: true, rps: 10, errors: 1 });
    expect(p0!.backends).toEqual({ a: 6, b: 4 });
    expect(p0!.errorKinds).toEqual({ "HTTP 503": 1 });
    expect(p1!.backends).toEqual({ a: 5 });
    expect(p1!.errorKinds).toEqual({ ECONNRESET: 3, ETIMEDOUT: 1 });
    expect(p1!.errors).toBe(4);
    // An unlabeled response counts in rps but in no backend.
    expect(p2).toMatchObject({ rps: 1, backends: {}, errorKinds: {} });
  });

  it("adds per-backend counts and error kinds when it coalesces intervals", () => {
    const rec = new Recorder({ runStartMs: 0, warmupEndMs: 0, maxPoints: 4 });
    for (let t = 0; t < 10_000; t += 100) {
      rec.recordResponse(t, t + 1, 1000, t % 1000 === 0 ? 502 : 200, 10, t % 200 ? "b" : "a");
    }
    const out = rec.finish(10_000);
    expect(out.series.intervalMs).toBeGreaterThan(1000);
    const total = (key: "a" | "b") => out.series.points.reduce((n, p) => n + (p.backends?.[key] ?? 0), 0);
    expect([total("a"), total("b")]).toEqual([50, 50]);
    expect(out.series.points.reduce((n, p) => n + (p.errorKinds?.["HTTP 502"] ?? 0), 0)).toBe(10);
    for (const p of out.series.points)
      expect(Object.values(p.errorKinds ?? {}).reduce((n, c) => n + c, 0)).toBe(p.errors);
  });

  it("keeps a bounded series on long runs by coalescing intervals", () => {
    const rec = new Recorder({ runStartMs: 0, warmupEndMs: 0, maxPoints: 16 });
    // 200 simulated seconds, one response per 100 ms.
    for (let t = 0; t < 200_000; t += 100) rec.recordResponse(t, t + 2, 2000, 200, 10, undefined);
    const out = rec.finish(200_000);
    expect(out.series.points.length).toBeLessThanOrEqual(17);
    expect(out.series.intervalMs).toBeGreaterThanOrEqual(16_000);
    const covered = out.series.points.length * out.series.intervalMs;
    expect(covered).toBeGreaterThanOrEqual(200_000);
    expect(out.series.points[1]!.rps).toBeCloseTo(10, 0);
    expect(out.latency.count).toBe(2000);
  });

  it("emits empty intervals while the target is silent", () => {
    const rec = new Recorder({ runStartMs: 0, warmupEndMs: 0 });
    rec.recordResponse(0, 1, 1000, 200, 10, undefined);
    rec.recordResponse(3500, 3501, 1000, 200, 10, undefined);
    const out = rec.finish(4000);
    expect(out.series.points.map((p) => p.rps)).toEqual([1, 0, 0, 1]);
  });

  it("merges workers' totals and intervals into exactly what one recorder would have seen", () => {
    // The same responses recorded once by one recorder, and split between two "worker" recorders
    // whose raw intervals and totals are merged into a parent.
    const samples = Array.from({ length: 3000 }, (_, i) => {
      const start = i * 1.3;
      return {
        start,
        end: start + 1 + (i % 17) * 0.7,
        status: i % 50 === 0 ? 503 : 200,
        backend: i % 3 ? "a" : "b",
      };
    });
    const whole = new Recorder({ runStartMs: 0, warmupEndMs: 500 });
    const parent = new Recorder({ runStartMs: 0, warmupEndMs: 500 });
    const buckets: RawBucket[][] = [[], []];
    const workers = [0, 1].map(
      (w) => new Recorder({ runStartMs: 0, warmupEndMs: 500, onBucket: (b) => buckets[w]!.push(b) }),
    );
    samples.forEach((s, i) => {
      const latencyUs = Math.round((s.end - s.start) * 1000);
      whole.recordResponse(s.start, s.end, latencyUs, s.status, 100, s.backend);
      workers[i % 2]!.recordResponse(s.start, s.end, latencyUs, s.status, 100, s.backend);
    });
    whole.recordFailure(2000, 2100, "error", "ECONNRESET");
    workers[1]!.recordFailure(2000, 2100, "error", "ECONNRESET");
    for (const w of workers) {
      w.flushRemaining();
      parent.addTotals(w.totals());
    }
    // Released in time order, as the thread pool does.
    const all = [...buckets[0]!, ...buckets[1]!].sort((a, b) => a.tStartMs - b.tStartMs);
    for (const b of all) parent.addBucket(b);

    const a = whole.finish(3500);
    const b = parent.finish(3500);
    expect(b.requests).toEqual(a.requests);
    // Histograms cross the thread boundary encoded: every count lands in the same bucket, and the
    // max (like HdrHistogram's own decode) becomes its bucket's highest equivalent value (3 digits).
    const { maxUs: maxB, ...restB } = b.latency;
    const { maxUs: maxA, ...restA } = a.latency;
    expect(restB).toEqual(restA);
    expect(maxB).toBe(decodeHistogram(a.encoded.latency).maxValue);
    expect(Math.abs(maxB - maxA) / maxA).toBeLessThan(0.001);
    const strip = (x: typeof a.backends) =>
      x.entries.map((e) => ({ ...e, latency: { ...e.latency, maxUs: 0 } }));
    expect(strip(b.backends)).toEqual(strip(a.backends));
    expect(b.backends.unlabeled).toBe(a.backends.unlabeled);
    expect(b.throughput).toEqual(a.throughput);
    expect(b.encoded.perBackend).toEqual(a.encoded.perBackend);
    expect(b.series.points.map(({ jitterUs, maxUs, ...p }) => p)).toEqual(
      a.series.points.map(({ jitterUs, maxUs, ...p }) => p),
    );
    // The per-interval backend counts and error kinds are there to merge (not vacuously equal).
    expect(a.series.points[1]!.backends).toMatchObject({ a: expect.any(Number), b: expect.any(Number) });
    expect(a.series.points.find((p) => p.errorKinds?.["ECONNRESET"])?.errorKinds).toMatchObject({
      ECONNRESET: 1,
      "HTTP 503": expect.any(Number),
    });
    expect(parent.completedAll).toBe(whole.completedAll);
    expect(parent.failedAll).toBe(whole.failedAll);
  });
});
