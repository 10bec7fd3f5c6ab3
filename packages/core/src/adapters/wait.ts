import { LabgateError, PlatformTimeoutError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { sleep } from "../util/sleep.js";
import type { NodeInfo, NodeRef, WaitOptions } from "./types.js";

export interface PollOptions<T> extends WaitOptions {
  /** A value that ends the wait at once: a message (PLATFORM_WAIT_FAILED, exit 5) or the error to throw. */
  failed?: (value: T) => string | Error | undefined;
  /** The error once the deadline has passed, from the last value seen (default PLATFORM_WAIT_TIMEOUT, exit 8). */
  timedOut?: (last: T, timeoutMs: number) => Error;
  /** The error when the signal aborts (default INTERRUPTED naming `what`). */
  interrupted?: () => Error;
}

/**
 * Polls `probe` until `done` says so, `failed` gives a reason, the deadline passes or the signal
 * aborts. The last probe runs at the deadline, so a wait never gives up on a stale look. Every
 * adapter's waitUntilRunning and task wait, OpenNebula's waits and the faults' settles go through here.
 */
export function pollUntil<T, D extends T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => value is D,
  options?: PollOptions<T>,
): Promise<D>;
export function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  options?: PollOptions<T>,
): Promise<T>;
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  options: PollOptions<T> = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const intervalMs = options.intervalMs ?? 2_000;
  const deadline = Date.now() + timeoutMs;
  const stopped = options.interrupted ?? (() => interrupted(what));
  for (;;) {
    if (options.signal?.aborted) throw stopped();
    const value = await probe();
    if (done(value)) return value;
    const failure = options.failed?.(value);
    if (failure instanceof Error) throw failure;
    if (failure)
      throw new LabgateError("PLATFORM_WAIT_FAILED", `${what}: ${failure}`, { exitCode: ExitCode.EXTERNAL });
    if (Date.now() >= deadline) {
      if (options.timedOut) throw options.timedOut(value, timeoutMs);
      throw new PlatformTimeoutError(`${what} did not finish within ${Math.round(timeoutMs / 1000)} s.`, {
        hint: "Look at the platform's console for why it is stuck, or raise the timeout (--timeout).",
      });
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), options.signal, stopped);
  }
}

/** The common waitUntilRunning: poll get() until the normalised state is running; error/terminated fail fast. */
export function waitForRunning(
  get: () => Promise<NodeInfo | undefined>,
  ref: NodeRef,
  options: WaitOptions = {},
): Promise<NodeInfo> {
  return pollUntil(
    `Waiting for ${ref.platform} node ${ref.name} (${ref.id}) to run`,
    get,
    (info) => info?.state === "running",
    {
      ...options,
      failed: (info) =>
        info === undefined
          ? "the node no longer exists"
          : info.state === "error" || info.state === "terminated"
            ? `the node is ${info.state} (${info.rawState})`
            : undefined,
    },
  ) as Promise<NodeInfo>;
}

function interrupted(what: string): LabgateError {
  return new LabgateError("INTERRUPTED", `Interrupted while: ${what}.`, { exitCode: ExitCode.INTERRUPTED });
}
