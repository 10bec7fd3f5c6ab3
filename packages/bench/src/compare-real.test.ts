import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareResults } from "./compare.js";
import { runRounds } from "./rounds.js";
import { startTarget, type Target } from "./test-support/target.js";
import type { BenchResult } from "./types.js";

/**
 * Same-configuration pairs on real measurements. Twenty pairs of real `--repeat` runs (2 × 6 rounds
 * each) would take minutes on two shared cores, so the pairs are drawn from one real run of 12 rounds
 * of one configuration: each pair splits those rounds at random into two sides of 6. Nothing differs
 * between the sides but the machine's own noise and drift.
 *
 * What can be promised: the rank test is exact and Benjamini-Hochberg bounds the chance of any alarm
 * across the metrics by the 5% design level when nothing changed, so over many splits at most ~5% of
 * pairs may be flagged. "At most 1 of 20" is the same rate, but a count of 20 at 5% is 2 or more about
 * a quarter of the time on real rounds (whose metrics move together): it is checked on compare.test.ts's
 * seeded model, and here only reported beside the rate over 400 splits.
 */
describe("compare on real rounds of one configuration", () => {
  let target: Target;
  let real: BenchResult;
  beforeAll(async () => {
    target = await startTarget({ backends: ["web1", "web2"] });
    real = await runRounds({ url: target.url, connections: 4, durationMs: 500 }, 12);
  }, 120_000);
  afterAll(async () => {
    await target?.stop();
  });

  it("flags no more than the 5% design rate of same-configuration pairs (400 random splits of 12 real rounds)", () => {
    expect(real.rounds).toHaveLength(12);
    let seed = 20_261_206;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const split = () => {
      const order = real.rounds!.map((round) => ({ round, key: random() })).sort((a, b) => a.key - b.key);
      const side = (from: number) => ({ ...real, rounds: order.slice(from, from + 6).map((x) => x.round) });
      return compareResults(side(0), side(6));
    };
    let flagged = 0;
    let first20 = 0;
    for (let pair = 0; pair < 400; pair++) {
      const c = split();
      // Six rounds a side: enough for the rank test to judge.
      expect(c.rows.some((r) => r.significant !== null)).toBe(true);
      if (c.rows.some((r) => r.significant === true)) {
        flagged++;
        if (pair < 20) first20++;
      }
    }
    // 5% of 400 is 20; the estimate's own spread is about ±4.4 pairs.
    expect(flagged, `flagged ${flagged} of 400 splits (${first20} of the first 20)`).toBeLessThanOrEqual(32);
  });
});
