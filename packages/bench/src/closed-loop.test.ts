import { describe, expect, it } from "vitest";
import { repairAutocannonClient } from "./autocannon-client-repair.js";
import { runBench } from "./run-bench.js";
import { testTarget } from "./test-support/test-target.js";
import type { SeriesPoint } from "./types.js";

/**
 * Little's law: in a closed loop every connection always has exactly one request in flight, so
 * responses/s × mean latency cannot exceed the number of connections. Latencies measured from a
 * stale start (autocannon's queue after a reconnect) break it by orders of magnitude, whatever the
 * machine's load.
 */
function inFlight(rps: number, meanUs: number): number {
  return (rps * meanUs) / 1_000_000;
}

describe("closed loop against targets that close or lose connections", () => {
  it("measures a Connection: close server correctly: no lost requests, latencies consistent with the load", async () => {
    const t = await testTarget({
      connectionClose: true,
      backends: ["web1", "web2"],
      backendDelayMs: { web1: 5, web2: 5 },
    });
    const r = await runBench({ url: t.url, connections: 2, durationMs: 1500 });
    expect(r.requests.responses).toBeGreaterThan(20);
    expect(r.requests.failed).toBe(0);
    // Only the requests in flight when the run stopped are unanswered, not one per reconnect.
    expect(r.requests.unfinished).toBeLessThanOrEqual(2);
    // The server waits 5 ms (Node timers may fire up to 1 ms early against the real clock).
    expect(r.latency.minUs).toBeGreaterThanOrEqual(4000);
    expect(inFlight(r.throughput.rps, r.latency.meanUs)).toBeLessThanOrEqual(2 * 1.15);
    // The server answered every counted response (and more: autocannon stops up to 100 ms late).
    expect((await t.stats()).served).toBeGreaterThanOrEqual(r.requests.responses);
  });

  it("keeps measuring correctly after the target restarts mid-run", async () => {
    const t = await testTarget({ downAfterMs: 700, downForMs: 600 });
    const r = await runBench({ url: t.url, connections: 2, durationMs: 3000 });
    expect(r.requests.connectionErrors).toBeGreaterThan(0);
    expect(Object.keys(r.requests.errorsByCode)).toContain("ECONNREFUSED");
    // After the restart (from 1.3 s on) responses come back, and their latencies are their own.
    const last: SeriesPoint | undefined = r.series.points.find((p) => p.tSec === 2);
    expect(last?.rps).toBeGreaterThan(20);
    expect(inFlight(last!.rps, last!.meanUs)).toBeLessThanOrEqual(2 * 1.15);
    expect(inFlight(r.throughput.rps, r.latency.meanUs)).toBeLessThanOrEqual(2 * 1.15);
  });

  it("counts a response that never completes as a timeout, not as a response", async () => {
    const t = await testTarget({ drip: true });
    const r = await runBench({ url: t.url, connections: 2, durationMs: 2500, timeoutMs: 1000 });
    expect(r.requests.responses).toBe(0);
    expect(r.requests.timeouts).toBeGreaterThanOrEqual(2);
    expect(r.requests.errorsByCode).toEqual({ ETIMEDOUT: r.requests.timeouts });
  });
});

describe("repairAutocannonClient", () => {
  it("refuses a client whose internals are not autocannon 9's", () => {
    const client = { on() {} };
    expect(() =>
      repairAutocannonClient(client as never, {
        onLost() {},
      }),
    ).toThrow(/autocannon's client internals changed/);
  });
});
