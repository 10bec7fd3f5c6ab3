import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

export interface TargetConfig {
  stallEvery?: number;
  stallMs?: number;
  backends?: string[];
  backendDelayMs?: Record<string, number>;
  backendHeader?: string;
  slowForMs?: number;
  slowDelayMs?: number;
  /** Label responses "cold" (inside slowForMs) or "warm" in the backend header. */
  labelCold?: boolean;
  dieAfterMs?: number;
  /** Restart: stop listening and drop all connections this long after the first request ... */
  downAfterMs?: number;
  /** ... and listen again on the same port after this long (default 1000). */
  downForMs?: number;
  /** Answer with `Connection: close` and close the connection after each response. */
  connectionClose?: boolean;
  /** Send the headers, then trickle the body one byte per 100 ms forever. */
  drip?: boolean;
  status?: number;
  /** Listen on this loopback port instead of a free one (a restart on the port of a killed target). */
  port?: number;
}

export interface TargetStats {
  served: number;
  perBackend: Record<string, number>;
  lastRequest: { method?: string; url?: string; headers?: Record<string, string>; body?: string };
  /** Count of requests per shape, keyed by `requestSignature`. */
  requests: Record<string, number>;
}

/** The key the target counts a request under (same as target-server.mjs). */
export function requestSignature(
  method: string,
  path: string,
  contentLength: string | undefined,
  transferEncoding: string | undefined,
  body: Buffer,
): string {
  const digest = createHash("sha256").update(body).digest("hex");
  return `${method} ${path} cl=${contentLength ?? "-"} te=${transferEncoding ?? "-"} bytes=${body.length} sha256=${digest}`;
}

export interface Target {
  url: string;
  child: ChildProcess;
  stats(): Promise<TargetStats>;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL("./target-server.mjs", import.meta.url));

/** Starts a target server process on a free loopback port. */
export async function startTarget(config: TargetConfig = {}): Promise<Target> {
  const child = spawn(process.execPath, [script, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split("\n")[0];
      if (buffer.includes("\n") && line) resolve(Number(line));
    });
    child.once("exit", (code) => reject(new Error(`target exited early (${code})`)));
    child.once("error", reject);
  });
  const url = `http://127.0.0.1:${port}/`;
  return {
    url,
    child,
    async stats() {
      const res = await fetch(`${url}__stats`);
      return (await res.json()) as TargetStats;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    },
  };
}
