/**
 * Waits `ms`. When `signal` aborts first (or already has), rejects at once with `reason()`, by default the
 * signal's own reason, so a wait never outlives a Ctrl-C.
 */
export function sleep(
  ms: number,
  signal?: AbortSignal,
  reason: () => unknown = () => signal?.reason,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(reason());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(reason());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
