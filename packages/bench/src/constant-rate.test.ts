import { describe, expect, it } from "vitest";
import { runBench } from "./run-bench.js";
import { parseSlos } from "./slo.js";
import { testTarget } from "./test-support/test-target.js";

describe("constant rate timeouts", () => {
  it("times out a response that trickles in forever (a deadline, not an idle timeout)", async () => {
    const t = await testTarget({ drip: true });
    // A byte every 100 ms keeps an idle timer from ever firing; every request must still fail.
    const r = await runBench({
      url: t.url,
      rate: 20,
      connections: 50,
      durationMs: 1000,
      timeoutMs: 500,
      slos: parseSlos(["errors<1%"]),
    });
    expect(r.requests.sent).toBe(20);
    expect(r.requests.timeouts).toBe(20);
    expect(r.requests.failed).toBe(20);
    expect(r.requests.unfinished).toBe(0);
    expect(r.requests.responses).toBe(0);
    expect(r.slos[0]).toMatchObject({ actual: 100, pass: false });
  });
});
