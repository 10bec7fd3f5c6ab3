import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareResults } from "./compare.js";
import { BenchOptionError } from "./errors.js";
import { decodeHistogram } from "./histogram.js";
import { runRounds } from "./rounds.js";
import { parseSlos } from "./slo.js";
import { startTarget, type Target } from "./test-support/target.js";

describe("runRounds (--repeat N) against a real target", () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget({ backends: ["web1", "web2"] });
  });
  afterAll(async () => {
    await target?.stop();
  });

  it("keeps every round and pools them exactly on one time axis", async () => {
    const result = await runRounds(
      {
        url: target.url,
        rate: 100,
        connections: 4,
        warmupMs: 100,
        durationMs: 500,
        slos: parseSlos(["errors<50%"]),
      },
      3,
    );
    const rounds = result.rounds!;
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(result.measuredMs).toBe(rounds.reduce((s, r) => s + r.measuredMs, 0));
    expect(result.requests.responses).toBe(rounds.reduce((s, r) => s + r.responses, 0));
    expect(result.latency.count).toBe(rounds.reduce((s, r) => s + r.latency.count, 0));
    expect(decodeHistogram(result.histograms.latency).totalCount).toBe(result.latency.count);
    expect(result.histograms.rounds).toHaveLength(3);
    expect(result.backends.entries.reduce((s, b) => s + b.count, 0)).toBe(
      rounds.reduce((s, r) => s + r.backends.reduce((t, b) => t + b.count, 0), 0),
    );
    // Later rounds start later on the shared axis, and their points sit after the previous round's.
    expect(rounds[1]!.offsetSec).toBeGreaterThanOrEqual(0.6);
    expect(rounds[2]!.offsetSec).toBeGreaterThan(rounds[1]!.offsetSec);
    const ts = result.series.points.map((p) => p.tSec);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(Math.max(...ts)).toBeGreaterThanOrEqual(rounds[2]!.offsetSec);
    // SLOs are judged once, on the pooled result.
    expect(result.slos).toHaveLength(1);
    // Each round's points keep their target rate (the warm-up included: sent at the rate too).
    expect(result.series.target).toBe("rate");
    expect(result.series.points.filter((p) => p.target === 100).length).toBeGreaterThanOrEqual(3);
    for (const p of result.series.points) expect(p.target === 100 || p.target === 0).toBe(true);

    // The same configuration against itself: every row judged, none flagged.
    const c = compareResults(result, result);
    expect(c.rows.every((r) => r.significant === false)).toBe(true);
  }, 60_000);

  it("rejects a repeat count that is not 1..100 before any traffic", async () => {
    const before = (await target.stats()).served;
    await expect(runRounds({ url: target.url, durationMs: 100 }, 0)).rejects.toThrow(BenchOptionError);
    await expect(runRounds({ url: target.url, durationMs: 100 }, 101)).rejects.toThrow(/from 1 to 100/);
    await expect(runRounds({ url: target.url, durationMs: 100 }, 2.5)).rejects.toThrow(BenchOptionError);
    expect((await target.stats()).served).toBe(before);
  });
});
