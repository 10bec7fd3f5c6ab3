/** Below this distance to the next due time the loop stops sleeping on a timer and polls instead. */
export const SPIN_WINDOW_MS = 2;

/**
 * Calls `tick(now)` at (or just after) each due time until it returns null. Node timers fire on a
 * 1 ms grid and often up to a millisecond late, so the loop sleeps on a timer only until about
 * SPIN_WINDOW_MS before the due time and then polls with setImmediate: I/O keeps being served
 * between polls, and a due request is noticed within one loop turn (tens of microseconds) instead
 * of a timer tick. `tick` returns the next due time.
 */
export function preciseLoop(firstDueMs: number, tick: (nowMs: number) => number | null): Promise<void> {
  return new Promise<void>((resolve) => {
    let due = firstDueMs;
    const step = (): void => {
      const now = performance.now();
      if (now >= due) {
        const next = tick(now);
        if (next === null) {
          resolve();
          return;
        }
        due = next;
      }
      const remaining = due - performance.now();
      if (remaining > SPIN_WINDOW_MS) setTimeout(step, Math.floor(remaining - SPIN_WINDOW_MS + 1));
      else setImmediate(step);
    };
    step();
  });
}
