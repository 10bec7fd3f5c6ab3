import { LabgateError, PlatformTimeoutError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { sleep } from "../util/sleep.js";
import type { NodeInfo, NodeRef, WaitOptions } from "./types.js";

/**
 * Polls `probe` until `done` says so, the deadline passes (PLATFORM_WAIT_TIMEOUT, exit 8) or the
 * signal aborts (INTERRUPTED). Every adapter's waitUntilRunning and task wait goes through here.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  options: WaitOptions & { failed?: (value: T) => string | undefined } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const intervalMs = options.intervalMs ?? 2_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfAborted(options.signal, what);
    const value = await probe();
    if (done(value)) return value;
    const failure = options.failed?.(value);
    if (failure)
      throw new LabgateError("PLATFORM_WAIT_FAILED", `${what}: ${failure}`, { exitCode: ExitCode.EXTERNAL });
    if (Date.now() >= deadline) {
      throw new PlatformTimeoutError(`${what} did not finish within ${Math.round(timeoutMs / 1000)} s.`, {
        hint: "Look at the platform's console for why it is stuck, or raise the timeout (--timeout).",
      });
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), options.signal, () =>
      interrupted(what),
    );
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

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw interrupted(what);
}
