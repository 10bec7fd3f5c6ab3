import { describe, expect, it } from "vitest";
import { formatResultText } from "./format.js";
import { runBench } from "./run-bench.js";
import { parseSlos } from "./slo.js";
import { canPin, withPinnedBusyLoop } from "./test-support/pinned-busy-loop.js";
import { startTarget } from "./test-support/target.js";
import { TRUST_LIMITS } from "./trust.js";

describe("saturation is detected from what it does to the run", () => {
  it.skipIf(!canPin())(
    "a busy loop pinned on the generator's core makes the run untrustworthy and its SLOs not judged",
    async () => {
      const t = await startTarget({ backends: ["web1", "web2"] });
      try {
        const r = await withPinnedBusyLoop(t.child.pid!, () =>
          runBench({
            url: t.url,
            connections: 8,
            workers: 1,
            durationMs: 2000,
            slos: parseSlos(["p99<10s", "errors<1%"]),
          }),
        );
        expect(r.requests.responses).toBeGreaterThan(0);
        // The thresholds held, but the numbers may describe the starved generator, not the target.
        expect(r.slosPassed).toBe(true);
        expect(r.generator.starvedPercent).toBeGreaterThan(TRUST_LIMITS.starvedPercent);
        expect(r.generator.trustworthy).toBe(false);
        expect(r.generator.notes.join(" ")).toMatch(/waited for a CPU/);
        expect(r.sloVerdict).toBe("not-judged");
        const text = formatResultText(r);
        expect(text).toMatch(/SLOs NOT JUDGED/);
        expect(text).not.toMatch(/All SLOs passed/);
      } finally {
        await t.stop();
      }
    },
    60_000,
  );
});
