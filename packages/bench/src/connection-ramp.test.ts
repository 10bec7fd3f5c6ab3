import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionRamp } from "./connection-ramp.js";
import { BenchOptionError } from "./errors.js";
import { resolveOptions } from "./options.js";
import { renderMarkdownReport } from "./report-md.js";
import { runBench } from "./run-bench.js";
import { parseStages } from "./stages.js";
import { startTarget, type Target } from "./test-support/target.js";

describe("ConnectionRamp: which of a thread's connections run", () => {
  it("deals ⌊target⌋ connections round-robin to the threads, at the moments the target crosses each whole number", () => {
    const spec = { startConnections: 0, warmupMs: 1000, stages: parseStages("2s:10,1s:10,2s:0") };
    const threads = [0, 1, 2].map((k) => new ConnectionRamp({ ...spec, offset: k, stride: 3 }, 5000));
    for (let t = 0; t <= 6000; t += 25) {
      const total = threads[0]!.total(5000 + t);
      const shares = threads.map((r) => r.local(5000 + t));
      expect(
        shares.reduce((a, b) => a + b, 0),
        `t=${t}`,
      ).toBe(total);
      expect(Math.max(...shares) - Math.min(...shares), `t=${t}`).toBeLessThanOrEqual(1);
    }
    // Warm-up at the start (0); then 0 → 10 over 2 s: the 5th connection opens at 1 s into the stage.
    expect(threads[0]!.total(5000 + 999)).toBe(0);
    expect(threads[0]!.total(5000 + 1000 + 999)).toBe(4);
    expect(threads[0]!.total(5000 + 1000 + 1000)).toBe(5);
    expect(threads[0]!.total(5000 + 3500)).toBe(10);
    // 10 → 0 over the last 2 s, one connection less every 200 ms.
    expect(threads[0]!.total(5000 + 4000 + 201)).toBe(8);
    expect(threads[0]!.total(5000 + 6000)).toBe(0);
  });
});

describe("--stages --ramp connections (closed loop, k6 ramping-vus)", () => {
  it("starts from --connections when given, else 0; the pool holds the largest target", () => {
    const base = {
      url: "http://127.0.0.1:9/",
      stages: parseStages("1s:6,1s:2"),
      stagesOf: "connections" as const,
    };
    expect(resolveOptions(base)).toMatchObject({
      mode: "closed-loop",
      rate: null,
      connections: 6,
      startConnections: 0,
    });
    expect(resolveOptions({ ...base, connections: 9 })).toMatchObject({
      connections: 9,
      startConnections: 9,
    });
    expect(() => resolveOptions({ ...base, rate: 10 })).toThrow(
      /--ramp connections ramps a closed loop's connections/,
    );
    expect(() => resolveOptions({ ...base, stages: parseStages("1s:0.5") })).toThrow(
      /never opens a connection/,
    );
    expect(() => resolveOptions({ url: base.url, stagesOf: "connections" })).toThrow(/without --stages/);
    expect(() => resolveOptions({ ...base, stagesOf: "vus" as unknown as "rate" })).toThrow(BenchOptionError);
  });

  let target: Target;
  beforeAll(async () => {
    // Every answer takes 20 ms: each running connection gives about 50 responses a second.
    target = await startTarget({ backends: ["a"], backendDelayMs: { a: 20 } });
  });
  afterAll(async () => {
    await target?.stop();
  });

  it.each([1, 2])(
    "adds and removes connections at the right times across %i load thread(s)",
    async (workers) => {
      // 0 → 4 in second 0 (⌊target⌋: 0, 1, 2, 3 for a quarter second each), 4 in second 1, 4 → 0 in second 2.
      const result = await runBench({
        url: target.url,
        stages: parseStages("1s:4,1s:4,1s:0"),
        stagesOf: "connections",
        workers,
      });
      expect(result.options.mode).toBe("closed-loop");
      expect(result.options.connections).toBe(4);
      expect(result.generator.workers).toBe(workers);
      expect(result.measuredMs).toBe(3000);
      // The target connections per second, beside what was achieved.
      expect(result.series.target).toBe("connections");
      const [first, second, third] = result.series.points;
      expect([first, second, third].map((p) => p!.target)).toEqual([2, 4, 2]);
      // Connections in use (responses/s × mean latency, Little's law) follow ⌊target⌋: 1.5, 4, 1.5 on average.
      const inUse = (p: typeof first) => (p!.rps * p!.meanUs) / 1e6;
      expect(inUse(second)).toBeGreaterThan(3);
      expect(inUse(second)).toBeLessThanOrEqual(4.2);
      expect(inUse(first)).toBeLessThan(inUse(second) * 0.6);
      expect(inUse(third)).toBeLessThan(inUse(second) * 0.6);
      expect(inUse(first)).toBeGreaterThan(0.5);
      expect(inUse(third)).toBeGreaterThan(0.5);
      expect(result.requests.failed).toBe(0);
      // The closed loop's own check of its series (latencies within what the connections could hold).
      expect(result.generator.notes.join(" ")).not.toMatch(/time series is impossible/);
      expect(renderMarkdownReport(result)).toMatch(
        /\| from \(s\) \| target connections \| responses\/s \| connections in use \|/,
      );
    },
    30_000,
  );
});
