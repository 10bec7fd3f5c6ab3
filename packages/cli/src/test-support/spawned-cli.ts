import { type ChildProcess, spawn } from "node:child_process";
import { ensureBuiltCli } from "./built-cli.js";

/** The compiled `labgate` running as its own process: what it printed so far, and its exit code once it ends. */
export interface SpawnedCli {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<number | null>;
}

/** Starts the built CLI (rebuilt first when stale) with `args`, collecting stdout and stderr as they come. */
export function spawnBuiltCli(args: string[]): SpawnedCli {
  const child = spawn(process.execPath, [ensureBuiltCli(), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
  };
}
