/**
 * Below this distance to the next due time the loop stops sleeping on a timer and polls instead.
 * Kept short: a polling thread is always ready to run, and on a shared machine the scheduler ranks
 * it below threads that sleep, so responses it must also handle wait longer.
 */
export const SPIN_WINDOW_MS = 1.2;

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
      // A 1 ms timer fires 1-2 ms later: sleep on it only when that still lands before the due time.
      if (remaining > SPIN_WINDOW_MS + 1)
        setTimeout(step, Math.max(1, Math.floor(remaining - SPIN_WINDOW_MS)));
      else setImmediate(step);
    };
    step();
  });
}
