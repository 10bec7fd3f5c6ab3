import { processRunning } from "@labgate/core";
import { canListen } from "./port-owner.js";

/** Alive and not a zombie (core's process node check; the faults read it too). */
export function isRunning(pid: number): Promise<boolean> {
  return processRunning(pid);
}

/** Waits until nothing listens on address:port any more. */
export function waitForPortFree(address: string, port: number, timeoutMs = 5_000): Promise<boolean> {
  return waitFor(() => canListen(address, port), timeoutMs);
}

export async function waitFor(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  signal?: AbortSignal,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
