import { Worker } from "node:worker_threads";
import type { EngineClient, EngineSpec } from "./engine-core.js";
import type { EngineThreadMessage, ParentMessage } from "./engine-protocol.js";
import { BenchEngineError } from "./errors.js";
import { requestHeaders } from "./options.js";
import type { RawBucket, Recorder } from "./recorder.js";
import type { ThreadStats } from "./thread-stats.js";
import type { ResolvedBenchOptions } from "./types.js";

export interface ThreadsWindow {
  runStartMs: number;
  warmupEndMs: number;
  endMs: number;
  signal: AbortSignal | undefined;
}

export interface EngineThreads {
  /** Threads actually started (never more than connections). */
  readonly count: number;
  run(recorder: Recorder, window: ThreadsWindow): Promise<{ aborted: boolean; threads: ThreadStats[] }>;
  /** Ends the threads (after run, or when the run never starts). */
  close(): Promise<void>;
}

/** From source (tests run the .ts files) the worker needs a TypeScript loader; the build runs the .js. */
function workerEntry(): { url: URL; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    return {
      url: new URL("./engine-worker.ts", here),
      execArgv: ["--import", new URL("./test-support/register-ts-loader.mjs", here).href],
    };
  }
  return { url: new URL("./engine-worker.js", here), execArgv: [] };
}

/** The HTTP client of labgate's engine that `options` ask for. */
export function engineClient(options: ResolvedBenchOptions): EngineClient {
  return options.engine === "undici" ? "undici" : "net";
}

/** Splits `total` into `parts` whole shares that differ by at most one. */
function share(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

/**
 * Starts `workers` engine threads and waits until each is ready, so the run's clock starts only
 * when every thread can send. Connections are split between the threads; in constant rate thread
 * k sends requests k, k+W, k+2W ... of the one global schedule, so together they keep its spacing.
 */
export async function startEngineThreads(
  options: ResolvedBenchOptions,
  workers: number,
): Promise<EngineThreads> {
  const count = Math.max(1, Math.min(workers, options.connections));
  const entry = workerEntry();
  const threads: Worker[] = [];
  const ready: Array<Promise<void>> = [];
  for (let index = 0; index < count; index++) {
    const worker = new Worker(entry.url, {
      workerData: { index, client: engineClient(options) },
      execArgv: entry.execArgv,
    });
    threads.push(worker);
    ready.push(
      new Promise<void>((resolve, reject) => {
        const onMessage = (m: EngineThreadMessage) => {
          if (m.type !== "ready") return;
          worker.off("message", onMessage);
          worker.off("error", reject);
          resolve();
        };
        worker.on("message", onMessage);
        worker.once("error", reject);
        worker.once("exit", (code) => reject(new Error(`engine thread ${index} exited with code ${code}`)));
      }),
    );
  }
  const close = async () => {
    await Promise.all(threads.map((t) => t.terminate()));
  };
  try {
    await Promise.all(ready);
  } catch (error) {
    await close();
    throw new BenchEngineError(
      `an engine thread did not start (${(error as Error)?.message ?? error})`,
      error,
    );
  }

  return {
    count,
    close,
    run(recorder, window) {
      return runThreads(
        threads,
        (index) => engineSpec(options, window, index, count),
        recorder,
        window.signal,
      );
    },
  };
}

/** What engine thread `index` of `count` runs: its share of the connections and of the schedule. */
export function engineSpec(
  options: ResolvedBenchOptions,
  window: Omit<ThreadsWindow, "signal">,
  index: number,
  count: number,
): EngineSpec {
  const headers: string[] = ["user-agent", "labgate-bench"];
  for (const [name, value] of Object.entries(requestHeaders(options))) headers.push(name, value);
  const body = options.body ? new Uint8Array(options.body.data) : null;
  if (body) headers.push("content-length", String(body.byteLength));
  return {
    client: engineClient(options),
    url: options.url,
    method: options.method,
    headers,
    body,
    connections: share(options.connections, count, index),
    rate: options.rate === null ? null : options.rate / count,
    scheduleOffset: index,
    scheduleStride: count,
    ramp:
      options.stages && options.stagesOf !== "connections"
        ? { startRate: options.rate ?? 0, warmupMs: options.warmupMs, stages: options.stages }
        : null,
    connectionRamp:
      options.stages && options.stagesOf === "connections"
        ? {
            startConnections: options.startConnections ?? 0,
            warmupMs: options.warmupMs,
            stages: options.stages,
            offset: index,
            stride: count,
          }
        : null,
    timeoutMs: options.timeoutMs,
    backendHeader: options.backendHeader,
    insecure: options.insecure,
    runStartMs: window.runStartMs,
    warmupEndMs: window.warmupEndMs,
    endMs: window.endMs,
  };
}

function runThreads(
  threads: Worker[],
  specFor: (index: number) => EngineSpec,
  recorder: Recorder,
  signal: AbortSignal | undefined,
): Promise<{ aborted: boolean; threads: ThreadStats[] }> {
  // Interval t is merged once every thread has sent it (or finished): threads close their
  // intervals at slightly different moments, and the parent must add them in time order.
  const lastSent = threads.map(() => Number.NEGATIVE_INFINITY);
  let waiting: RawBucket[] = [];
  const release = () => {
    const upTo = Math.min(...lastSent);
    const ready = waiting.filter((b) => b.tStartMs <= upTo).sort((a, b) => a.tStartMs - b.tStartMs);
    if (ready.length === 0) return;
    waiting = waiting.filter((b) => b.tStartMs > upTo);
    for (const bucket of ready) recorder.addBucket(bucket);
  };
  const stats: ThreadStats[] = [];
  let aborted = false;
  let remaining = threads.length;

  return new Promise((resolve, reject) => {
    const onAbort = () => {
      for (const t of threads) t.postMessage({ type: "abort" } satisfies ParentMessage);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const fail = (problem: string, cause?: unknown) => {
      signal?.removeEventListener("abort", onAbort);
      reject(new BenchEngineError(problem, cause));
    };
    threads.forEach((thread, index) => {
      thread.on("message", (m: EngineThreadMessage) => {
        if (m.type === "bucket") {
          waiting.push(m.bucket);
          lastSent[index] = m.bucket.tStartMs;
          release();
        } else if (m.type === "done") {
          if (m.error) return fail(`engine thread ${index} crashed: ${m.error}`);
          lastSent[index] = Number.POSITIVE_INFINITY;
          release();
          recorder.addTotals(m.totals);
          stats[index] = m.stats;
          aborted ||= m.aborted;
          if (--remaining === 0) {
            signal?.removeEventListener("abort", onAbort);
            resolve({ aborted, threads: stats });
          }
        }
      });
      thread.once("error", (error) => fail(`engine thread ${index} crashed: ${error.message}`, error));
      thread.postMessage({
        type: "go",
        start: { parentTimeOrigin: performance.timeOrigin, spec: specFor(index) },
      } satisfies ParentMessage);
    });
    if (signal?.aborted) onAbort();
  });
}
