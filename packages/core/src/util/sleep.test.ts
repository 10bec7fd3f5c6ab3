import { describe, expect, it } from "vitest";
import { sleep } from "./sleep.js";

describe("sleep", () => {
  it("waits about the time asked", async () => {
    const start = performance.now();
    await sleep(30);
    expect(performance.now() - start).toBeGreaterThanOrEqual(29);
  });

  it("rejects with the signal's reason as soon as it aborts", async () => {
    const controller = new AbortController();
    const start = performance.now();
    const waiting = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(new Error("stop")), 10);
    await expect(waiting).rejects.toThrow("stop");
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it("rejects at once on an aborted signal, with the given reason", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(sleep(10_000, controller.signal, () => new Error("interrupted"))).rejects.toThrow(
      "interrupted",
    );
  });
});
