import { describe, expect, it } from "vitest";
import { pollUntil } from "./wait.js";

/** A probe that counts its calls and answers them in turn; the last answer repeats. */
function answers<T>(...values: T[]) {
  const seen = { calls: 0 };
  const probe = async () => values[Math.min(seen.calls++, values.length - 1)] as T;
  return { seen, probe };
}

describe("pollUntil", () => {
  it("returns the first value `done` accepts, probing again after each interval", async () => {
    const { seen, probe } = answers("PENDING", "BOOT", "RUNNING", "never reached");
    await expect(pollUntil("boot", probe, (s) => s === "RUNNING", { intervalMs: 1 })).resolves.toBe(
      "RUNNING",
    );
    expect(seen.calls).toBe(3);
  });

  it("a `failed` message is PLATFORM_WAIT_FAILED (exit 5); a `failed` error is thrown as it is", async () => {
    const msg = answers("ERROR");
    await expect(
      pollUntil("boot", msg.probe, () => false, { failed: (s) => (s === "ERROR" ? "it broke" : undefined) }),
    ).rejects.toMatchObject({ code: "PLATFORM_WAIT_FAILED", exitCode: 5, message: "boot: it broke" });
    const own = new Error("the platform's own words");
    const err = answers("ERROR");
    await expect(pollUntil("boot", err.probe, () => false, { failed: () => own })).rejects.toBe(own);
  });

  it("probes once more at the deadline, then times out: PLATFORM_WAIT_TIMEOUT, or `timedOut` with the last value", async () => {
    const slow = answers(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    await expect(
      pollUntil("boot", slow.probe, () => false, { timeoutMs: 60, intervalMs: 25 }),
    ).rejects.toMatchObject({ code: "PLATFORM_WAIT_TIMEOUT", message: "boot did not finish within 0 s." });
    expect(slow.seen.calls).toBeGreaterThanOrEqual(2);

    const counted = answers(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    const error = await pollUntil("boot", counted.probe, () => false, {
      timeoutMs: 30,
      intervalMs: 10,
      timedOut: (last, timeoutMs) => new Error(`still at ${last} after ${timeoutMs} ms`),
    }).catch((e: Error) => e);
    expect((error as Error).message).toBe(`still at ${counted.seen.calls} after 30 ms`);
  });

  it("stops when the signal aborts, during the wait between probes: INTERRUPTED, or the `interrupted` error", async () => {
    const controller = new AbortController();
    const { seen, probe } = answers("BOOT");
    const waiting = pollUntil("boot", probe, () => false, { intervalMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(waiting).rejects.toMatchObject({ code: "INTERRUPTED", message: "Interrupted while: boot." });
    expect(seen.calls).toBe(1);

    const own = new Error("stopped by the user");
    await expect(
      pollUntil("boot", probe, () => false, { signal: AbortSignal.abort(), interrupted: () => own }),
    ).rejects.toBe(own);
    expect(seen.calls).toBe(1);
  });
});
