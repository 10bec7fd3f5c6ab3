import { describe, expect, it } from "vitest";
import { preciseLoop } from "./precise-loop.js";
import { runBench } from "./run-bench.js";
import { parseSlos } from "./slo.js";
import { testTarget } from "./test-support/test-target.js";
import { startThreadStats } from "./thread-stats.js";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Above this share of waiting for a CPU, lateness says more about the machine than about the loop. */
const TOO_BUSY_STARVED_PCT = 25;

describe("precise schedule", () => {
  it("wakes within 100 µs of each due time at p50 (5000 per second, no network)", async (ctx) => {
    const stats = startThreadStats();
    const start = performance.now() + 5;
    const lags: number[] = [];
    let i = 0;
    await preciseLoop(start, (now) => {
      let due = start + i * 0.2;
      while (due <= now) {
        lags.push((now - due) * 1000);
        due = start + ++i * 0.2;
      }
      return i < 5000 ? due : null;
    });
    const s = stats.stop();
    expect(lags.length).toBeGreaterThanOrEqual(5000);
    const p50 = median(lags);
    if (p50 >= 100 && (s.starvedPercent ?? 0) > TOO_BUSY_STARVED_PCT)
      ctx.skip(
        `machine too busy to judge: p50 ${p50.toFixed(0)}µs, thread waited for a CPU ${s.starvedPercent}%`,
      );
    expect(p50).toBeLessThan(100);
  });

  it("sends at 5k req/s with the generator's own lag under 100 µs at p50, reported and usable as an SLO", async (ctx) => {
    const t = await testTarget({});
    const r = await runBench({
      url: t.url,
      rate: 5000,
      connections: 32,
      durationMs: 2000,
      slos: parseSlos(["generator_lag_p50<100us", "send_lag_p99<1s"]),
    });
    expect(r.requests.sent).toBe(10_000);
    const lag = r.rate!.generatorLagUs;
    expect(lag.max).toBeGreaterThanOrEqual(lag.p50);
    const verdicts = Object.fromEntries(r.slos.map((s) => [s.metric, s]));
    expect(verdicts["generator_lag_p50"]!.actual).toBe(lag.p50);
    expect(verdicts["send_lag_p99"]!.actual).toBe(r.rate!.sendLagUs.p99);
    // Latency is taken from when the generator noticed the send was due: its own lag is not in it.
    expect(r.serviceTime.p50Us).toBeLessThanOrEqual(r.latency.p50Us);
    if (lag.p50 >= 100 && (r.generator.starvedPercent ?? 0) > TOO_BUSY_STARVED_PCT)
      ctx.skip(
        `machine too busy to judge: lag p50 ${lag.p50}µs, generator waited for a CPU ${r.generator.starvedPercent}%`,
      );
    expect(lag.p50).toBeLessThan(100);
    expect(verdicts["generator_lag_p50"]!.pass).toBe(true);
  });
});
