import { createRequire } from "node:module";

/**
 * Typed view of the small part of autocannon 9 (which ships no types) that labgate uses.
 * Only per-connection events are used: autocannon's own histograms are 1 ms-resolution and its
 * coordinated-omission correction is not trusted; labgate records its own.
 */
export interface AutocannonClient {
  on(
    event: "headers",
    listener: (info: { statusCode: number; headers: string[]; shouldKeepAlive?: boolean }) => void,
  ): void;
  on(event: "response", listener: (statusCode: number, bytes: number, durationMs: number) => void): void;
  on(event: "request", listener: () => void): void;
  on(event: "timeout", listener: () => void): void;
  on(event: "connError", listener: (error: NodeJS.ErrnoException) => void): void;
  /** Closes the connection and sends nothing more (autocannon's own stop acts only at its next sample tick). */
  destroy(): void;
}

export interface AutocannonOptions {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Seconds. */
  timeout: number;
  method?: string;
  headers?: Record<string, string>;
  /** Sent with every request; autocannon adds its Content-Length (only when non-empty). */
  body?: Buffer | string;
  pipelining?: number;
  /** Milliseconds between autocannon's own samples (and its stop checks). */
  sampleInt?: number;
  setupClient?: (client: AutocannonClient) => void;
}

export interface AutocannonSummary {
  requests: { average: number; total: number };
  throughput: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  timeouts: number;
  duration: number;
  non2xx: number;
}

export interface AutocannonInstance {
  stop(): void;
  on(event: "done", listener: (result: AutocannonSummary) => void): void;
}

type AutocannonFn = (
  options: AutocannonOptions,
  callback: (error: Error | null, result: AutocannonSummary) => void,
) => AutocannonInstance;

const require = createRequire(import.meta.url);
let loaded: AutocannonFn | undefined;

/**
 * Loads autocannon (~25 MiB that runs on the default engine do not need). runBench calls it before
 * the run's clock starts: on a loaded machine the load can outlast a short run's window.
 */
export function loadAutocannon(): AutocannonFn {
  loaded ??= require("autocannon") as AutocannonFn;
  return loaded;
}

const autocannon: AutocannonFn = (options, callback) => loadAutocannon()(options, callback);

/** Starts autocannon and resolves with its own summary when it has stopped. */
export function startAutocannon(options: AutocannonOptions): {
  instance: AutocannonInstance;
  done: Promise<AutocannonSummary>;
} {
  let instance!: AutocannonInstance;
  const done = new Promise<AutocannonSummary>((resolve, reject) => {
    instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
  return { instance, done };
}
