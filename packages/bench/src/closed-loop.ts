import { type AutocannonClient, startAutocannon } from "./autocannon.js";
import { repairAutocannonClient } from "./autocannon-client-repair.js";
import { requestHeaders } from "./options.js";
import type { Recorder } from "./recorder.js";
import type { ResolvedBenchOptions } from "./types.js";

export interface LoopWindow {
  /** performance.now() when the loop must stop sending and stop counting. */
  endMs: number;
  signal: AbortSignal | undefined;
}

/**
 * Closed loop: N keep-alive connections, each sending its next request when the previous response
 * is complete (ab -c / autocannon). autocannon only drives the sockets; every timing goes to the
 * labgate recorder in microseconds. Responses after `endMs` are not counted (they are "unfinished").
 */
export async function runClosedLoop(
  options: ResolvedBenchOptions,
  recorder: Recorder,
  window: LoopWindow,
): Promise<{ aborted: boolean }> {
  const headerLower = options.backendHeader.toLowerCase();
  const headerLength = headerLower.length;
  // autocannon times out in whole seconds.
  const timeoutSec = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const timeoutMs = timeoutSec * 1000;
  const endMs = window.endMs;
  let stopped = false;
  // Flipped by a timer so the per-request path does not read the clock just to count sends.
  let measuring = performance.now() >= recorder.warmupEndMs;

  const clients: AutocannonClient[] = [];
  const setupClient = (client: AutocannonClient): void => {
    clients.push(client);
    let backend: string | undefined;
    repairAutocannonClient(client, {
      onLost() {
        if (stopped) return;
        const now = performance.now();
        recorder.recordFailure(now, now, "error", "ECONNRESET");
      },
    });
    client.on("request", () => {
      if (measuring && !stopped) recorder.countSend();
    });
    client.on("headers", (info) => {
      backend = undefined;
      const raw = info.headers;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i]!;
        if (name.length === headerLength && name.toLowerCase() === headerLower) {
          backend = raw[i + 1];
          break;
        }
      }
    });
    client.on("response", (status, bytes, durationMs) => {
      if (stopped) return;
      const end = performance.now();
      if (end > endMs) {
        // The stop timer is late (busy event loop): stop here, before this client sends again.
        stop();
        return;
      }
      if (!(status >= 100 && status < 600)) {
        // A response autocannon could not attribute (no status line parsed): not a measurement.
        recorder.recordFailure(end - durationMs, end, "error", "EPROTO");
        backend = undefined;
        return;
      }
      recorder.recordResponse(end - durationMs, end, Math.round(durationMs * 1000), status, bytes, backend);
      backend = undefined;
    });
    client.on("timeout", () => {
      if (stopped) return;
      const now = performance.now();
      recorder.recordFailure(now - timeoutMs, now, "timeout", "ETIMEDOUT");
    });
    client.on("connError", (error) => {
      if (stopped) return;
      const now = performance.now();
      recorder.recordFailure(now, now, "error", error.code ?? error.message);
    });
  };

  const totalSeconds = Math.max(0.1, (window.endMs - performance.now()) / 1000) + 5;
  const { instance, done } = startAutocannon({
    url: options.url,
    connections: options.connections,
    duration: totalSeconds,
    timeout: timeoutSec,
    method: options.method,
    headers: requestHeaders(options),
    // autocannon 9 builds each request once: its Content-Length from the buffer's byte length, then the body.
    ...(options.body ? { body: options.body.data } : {}),
    pipelining: 1,
    setupClient,
    // autocannon checks its stop flag once per sample interval; keep that short so stop() is prompt.
    sampleInt: 100,
  });

  let aborted = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // Stop the load at the end of the window, not up to a sample interval later: the target then
    // sees exactly the load that was measured.
    for (const client of clients) client.destroy();
    instance.stop();
  };
  const timer = setTimeout(stop, Math.max(0, window.endMs - performance.now()));
  const warmupTimer = setTimeout(
    () => {
      measuring = true;
    },
    Math.max(0, recorder.warmupEndMs - performance.now()),
  );
  const onAbort = () => {
    aborted = true;
    stop();
  };
  window.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await done;
  } finally {
    clearTimeout(timer);
    clearTimeout(warmupTimer);
    window.signal?.removeEventListener("abort", onAbort);
    stopped = true;
  }
  return { aborted };
}
