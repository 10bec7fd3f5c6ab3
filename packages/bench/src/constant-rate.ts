import http from "node:http";
import https from "node:https";
import type { LoopWindow } from "./closed-loop.js";
import { LATE_THRESHOLD_MS } from "./late-threshold.js";
import { requestHeaders } from "./options.js";
import type { Recorder } from "./recorder.js";
import type { ResolvedBenchOptions } from "./types.js";

export { LATE_THRESHOLD_MS };

/**
 * Constant rate, open loop (wrk2's model): request i is due at start + i/R whatever happened to
 * earlier ones. Latency runs from the due time, so a stalled target (or a generator that could not
 * send because every connection was busy) shows up in the latency instead of silently lowering the
 * request rate — the coordinated-omission correction. Service time (actual send → response) is
 * recorded beside it. Requests due before `endMs` are all sent; the loop then waits for them.
 */
export async function runConstantRate(
  options: ResolvedBenchOptions,
  recorder: Recorder,
  window: LoopWindow & { runStartMs: number },
): Promise<{ aborted: boolean }> {
  const rate = options.rate ?? 1;
  const intervalMs = 1000 / rate;
  const url = new URL(options.url);
  const secure = url.protocol === "https:";
  const transport = secure ? https : http;
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        maxSockets: options.connections,
        maxFreeSockets: options.connections,
        scheduling: "fifo",
        rejectUnauthorized: !options.insecure,
      })
    : new http.Agent({
        keepAlive: true,
        maxSockets: options.connections,
        maxFreeSockets: options.connections,
        scheduling: "fifo",
      });
  const headerLower = options.backendHeader.toLowerCase();
  const timeoutMs = options.timeoutMs;
  const body = options.body?.data;
  const requestOptions: http.RequestOptions = {
    agent,
    method: options.method,
    headers: {
      "user-agent": "labgate-bench",
      ...requestHeaders(options),
      // Set up front so Node does not fall back to chunked encoding, which some servers refuse.
      ...(body ? { "content-length": String(body.length) } : {}),
    },
  };

  let inFlight = 0;
  let next = 0;
  let aborted = false;
  let schedulingDone = false;
  let resolveDrained: () => void = () => {};
  const drained = new Promise<void>((resolve) => {
    resolveDrained = resolve;
  });
  const settle = () => {
    inFlight--;
    if (schedulingDone && inFlight === 0) resolveDrained();
  };

  // Requests not yet answered, so the drain can fail the ones still hanging when it gives up.
  const pending = new Set<() => void>();

  const fire = (scheduledMs: number, noticedMs: number) => {
    inFlight++;
    let finished = false;
    let timedOut = false;
    let sentMs = scheduledMs;
    let deadline: NodeJS.Timeout | undefined;
    // Recorded at once, not on the 'error' event that follows, so the drain can count it synchronously.
    const giveUp = () => {
      if (finished) return;
      timedOut = true;
      fail(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" }));
      req.destroy();
    };
    pending.add(giveUp);
    const done = () => {
      finished = true;
      clearTimeout(deadline);
      pending.delete(giveUp);
    };
    const fail = (error: NodeJS.ErrnoException) => {
      if (finished) return;
      done();
      recorder.recordFailure(
        scheduledMs,
        performance.now(),
        timedOut ? "timeout" : "error",
        timedOut ? "ETIMEDOUT" : (error.code ?? error.message),
      );
      settle();
    };
    const req = transport.request(url, requestOptions, (res) => {
      let bytes = headerBytes(res);
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on("end", () => {
        if (finished) return;
        done();
        const end = performance.now();
        const value = res.headers[headerLower];
        const backend = typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined;
        // From when the generator noticed the request was due: its own timer lag is reported
        // apart (generator lag), the wait for a connection stays in (coordinated omission).
        recorder.recordResponse(
          noticedMs,
          end,
          Math.round((end - sentMs) * 1000),
          res.statusCode ?? 0,
          bytes,
          backend,
          scheduledMs,
        );
        settle();
      });
      res.on("error", fail);
      res.on("aborted", () => fail(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
    });
    req.on("socket", () => {
      sentMs = performance.now();
      recorder.recordSend(scheduledMs, noticedMs, sentMs, LATE_THRESHOLD_MS);
      if (sentMs - scheduledMs > timeoutMs) {
        // It waited for a free connection longer than the timeout: it has already failed.
        giveUp();
        return;
      }
      // A deadline for the whole exchange: an idle timeout would never fire on a response that
      // trickles in slowly, and such a request would silently count as neither answer nor failure.
      deadline = setTimeout(giveUp, timeoutMs);
    });
    req.on("error", fail);
    if (body) req.end(body);
    else req.end();
  };

  const onAbort = () => {
    aborted = true;
  };
  window.signal?.addEventListener("abort", onAbort, { once: true });

  await new Promise<void>((resolve) => {
    const pump = () => {
      const now = performance.now();
      let due = window.runStartMs + next * intervalMs;
      while (!aborted && due <= now && due < window.endMs) {
        fire(due, now);
        next++;
        due = window.runStartMs + next * intervalMs;
      }
      if (aborted || due >= window.endMs) {
        resolve();
        return;
      }
      setTimeout(pump, Math.max(0, due - performance.now()));
    };
    pump();
  });
  schedulingDone = true;
  if (inFlight === 0) resolveDrained();

  // Every request due in the window gets its answer (or its timeout); a stall at the end counts.
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    drained,
    new Promise<void>((resolve) => {
      drainTimer = setTimeout(resolve, timeoutMs + 1000);
    }),
  ]);
  clearTimeout(drainTimer);
  // Whatever is still unanswered (e.g. queued for a connection all along) has timed out.
  for (const giveUp of [...pending]) giveUp();
  agent.destroy();
  window.signal?.removeEventListener("abort", onAbort);
  return { aborted };
}

/** Bytes of the status line and headers as received (chunked-encoding framing is not counted). */
function headerBytes(res: http.IncomingMessage): number {
  let total = 17 + (res.statusMessage?.length ?? 0);
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) total += raw[i]!.length + raw[i + 1]!.length + 4;
  return total + 2;
}
