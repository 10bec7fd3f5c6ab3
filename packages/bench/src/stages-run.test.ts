import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BenchOptionError } from "./errors.js";
import { renderHtmlReport } from "./report-html.js";
import { runBench } from "./run-bench.js";
import { parseStages } from "./stages.js";
import { startTarget, type Target } from "./test-support/target.js";

describe("--stages against a real target", () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget({});
  });
  afterAll(async () => {
    await target?.stop();
  });

  it("ramps the arrival rate from --rate: 100/s, then 100 → 300/s (sends per second follow the target)", async () => {
    const result = await runBench({
      url: target.url,
      rate: 100,
      connections: 8,
      stages: parseStages("1s:100,1s:300"),
      // One load thread: with two, the ramp's per-second shape is sometimes lost (all 300 answers in the
      // first second) although the run says it kept schedule: an open bug in splitting stages across threads.
      workers: 1,
    });
    expect(result.options.mode).toBe("constant-rate");
    expect(result.measuredMs).toBe(2000);
    // 100 in the first second, (100 + 300) / 2 = 200 in the second: 300 arrivals, a mean target of 150/s.
    expect(result.rate?.targetRps).toBe(150);
    expect(Math.abs(result.requests.sent - 300)).toBeLessThanOrEqual(2);
    // A generator kept off its cores (2 shared CI cores) sends late and in bursts: then the run must say
    // so, and its per-second shape describes the machine, not the schedule.
    if (!result.generator.trustworthy) {
      expect(result.generator.notes.join(" ")).toMatch(/\S/);
    } else {
      // Responses per second lag the sends on a busy machine; the ramp still shows: about twice as many
      // answers in the second second as in the first (a flat 150/s would give a ratio near 1).
      const [first, second] = result.series.points;
      expect(first!.rps).toBeGreaterThan(60);
      expect(first!.rps).toBeLessThan(130);
      expect(second!.rps / first!.rps).toBeGreaterThan(1.4);
    }
    // The report draws the target's corners beside what was achieved.
    const html = renderHtmlReport(result);
    expect(html).toContain("ramping arrival rate from 100 req/s through 1s→100/s, 1s→300/s");
    expect(html).toMatch(/<title>target rate<\/title>/);
  }, 30_000);

  it("refuses stages with the autocannon engine or without any request, before traffic", async () => {
    const before = (await target.stats()).served;
    await expect(
      runBench({ url: target.url, engine: "autocannon", stages: parseStages("1s:100") }),
    ).rejects.toThrow(BenchOptionError);
    await expect(runBench({ url: target.url, stages: parseStages("1s:0,2s:0") })).rejects.toThrow(
      /never asks for a request/,
    );
    expect((await target.stats()).served).toBe(before);
  });
});
