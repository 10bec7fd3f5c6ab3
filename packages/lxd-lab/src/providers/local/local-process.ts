import { pollUntil, processRunning } from "@labgate/core";
import { canListen } from "./port-owner.js";

/** Alive and not a zombie (core's process node check; the faults read it too). */
export function isRunning(pid: number): Promise<boolean> {
  return processRunning(pid);
}

/** Waits until nothing listens on address:port any more. */
export function waitForPortFree(address: string, port: number, timeoutMs = 5_000): Promise<boolean> {
  return waitFor(() => canListen(address, port), timeoutMs);
}

/**
 * Polls `condition` until it holds (true) or `timeoutMs` passes (false), on core's pollUntil; the signal
 * aborts the wait (INTERRUPTED).
 */
export async function waitFor(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  signal?: AbortSignal,
  intervalMs = 100,
): Promise<boolean> {
  try {
    await pollUntil("Waiting for the local lab", condition, (ok) => ok, {
      timeoutMs,
      intervalMs,
      ...(signal ? { signal } : {}),
    });
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === "PLATFORM_WAIT_TIMEOUT") return false;
    throw error;
  }
}
