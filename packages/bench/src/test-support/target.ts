import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface TargetConfig {
  stallEvery?: number;
  stallMs?: number;
  backends?: string[];
  backendDelayMs?: Record<string, number>;
  backendHeader?: string;
  slowForMs?: number;
  slowDelayMs?: number;
  dieAfterMs?: number;
  status?: number;
}

export interface TargetStats {
  served: number;
  perBackend: Record<string, number>;
  lastRequest: { method?: string; headers?: Record<string, string> };
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
