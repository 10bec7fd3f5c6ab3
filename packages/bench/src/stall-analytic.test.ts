import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMicros } from "./duration.js";
import { renderMarkdownReport } from "./report-md.js";
import { runBench } from "./run-bench.js";
import { startTarget, type Target } from "./test-support/target.js";
import type { BenchEngine } from "./types.js";

/**
 * The "1 s stall" check. The whole target is frozen (SIGSTOP, the kernel still queues the
 * connections and requests) for S seconds once inside a D-second run at R req/s. A request due t
 * seconds before the freeze ends waits t, so the S·R requests due in the freeze have latencies spread
 * evenly over (0, S]: the share above L is (S − L) / D, and the p-th percentile is S − (1 − p)·D.
 * With S measured between the two signals, D = 5 s: p99 = S − 50 ms, p95 = S − 250 ms.
 */
const RATE = 200;
const DURATION_MS = 5000;
const FREEZE_AT_MS = 1500;
const FREEZE_MS = 1000;

async function withFreeze<T>(target: Target, run: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const pid = target.child.pid!;
  let stoppedAt = 0;
  let stallMs = 0;
  const freeze = setTimeout(() => {
    process.kill(pid, "SIGSTOP");
    stoppedAt = performance.now();
    setTimeout(() => {
      process.kill(pid, "SIGCONT");
      stallMs = performance.now() - stoppedAt;
    }, FREEZE_MS);
  }, FREEZE_AT_MS);
  try {
    const result = await run();
    return { result, stallMs };
  } finally {
    clearTimeout(freeze);
    process.kill(pid, "SIGCONT");
  }
}

describe("a 1 s stall in a constant-rate run: the percentiles match the analytic value", () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget({});
  });
  afterAll(async () => {
    await target?.stop();
  });

  it.each<BenchEngine>(["net", "autocannon"])(
    "%s engine: p99 within 5 percent of S − 0.01·D (S the freeze, D the run)",
    async (engine) => {
      const { result, stallMs } = await withFreeze(target, () =>
        runBench({ url: target.url, engine, rate: RATE, connections: 50, durationMs: DURATION_MS }),
      );
      // Node's timers run on the loop's millisecond clock, so the SIGCONT timer may fire up to 1 ms
      // before FREEZE_MS by performance.now(); S is the measured value either way.
      expect(stallMs).toBeGreaterThan(FREEZE_MS - 1);
      expect(result.requests.sent).toBe((RATE * DURATION_MS) / 1000);
      expect(result.requests.failed).toBe(0);
      const d = DURATION_MS / 1000;
      const p99Ms = stallMs - 0.01 * d * 1000;
      const p95Ms = stallMs - 0.05 * d * 1000;
      // The stall is never hidden (autocannon -R missed it): every percentile at or above the model
      // but for the generator's own lag, which is kept out of latency (10%), and p95 ≤ p99.
      expect(result.latency.p99Us / 1000).toBeGreaterThan(p99Ms * 0.9);
      expect(result.latency.p95Us / 1000).toBeGreaterThan(p95Ms * 0.9);
      expect(result.latency.p95Us).toBeLessThanOrEqual(result.latency.p99Us);
      // The criterion, p99 within 5% of the model, holds where the run kept its schedule. On a
      // machine so busy that the generator or the frozen target's resume lags by tens of ms (both on
      // two shared cores), the run must say it was not trustworthy instead.
      const offBy = Math.abs(result.latency.p99Us / 1000 - p99Ms) / p99Ms;
      if (result.generator.trustworthy) {
        expect(offBy, `p99 ${result.latency.p99Us} µs vs ${p99Ms} ms`).toBeLessThan(0.05);
      } else {
        expect(result.generator.notes.join(" ")).toMatch(/\S/);
      }
      // The reports print the result's own summary: report.md's latency row carries this p99.
      expect(renderMarkdownReport(result)).toContain(formatMicros(result.latency.p99Us));
      // Service time (from the actual send) sees the freeze only in the ≤ 50 requests in flight then
      // (5%), not the wait of those queued in the generator behind them.
      expect(result.serviceTime.p90Us / 1000).toBeLessThan(p95Ms / 2);
    },
    60_000,
  );
});
