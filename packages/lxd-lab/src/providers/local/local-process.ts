import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { canListen } from "./port-owner.js";

/**
 * Starts a process detached from ours (own session, stdio to a log file), so it outlives the CLI.
 * Returns its pid as soon as the OS gives it — the caller records it before waiting on anything.
 */
export function spawnDetached(
  command: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): Promise<number> {
  const fd = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...env },
    });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("spawn", () => {
        child.unref();
        if (child.pid === undefined) reject(new Error(`${command} started without a pid`));
        else resolve(child.pid);
      });
    });
  } finally {
    closeSync(fd);
  }
}

/** Alive and not a zombie (a zombie still answers kill(pid, 0) but holds no sockets). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** The process's argv, or undefined when it is gone. */
export async function processArgv(pid: number): Promise<string[] | undefined> {
  const raw = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (!raw) return undefined;
  return raw.split("\0").filter(Boolean);
}

/** Is `pid` still the process we started (guards against pid reuse) — every marker appears in its argv. */
export async function isOurProcess(pid: number, markers: string[]): Promise<boolean> {
  if (!(await isRunning(pid))) return false;
  const argv = await processArgv(pid);
  return argv !== undefined && markers.every((m) => argv.includes(m));
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves when the process is gone. */
export async function stopProcess(
  pid: number,
  graceMs = 5_000,
): Promise<"terminated" | "killed" | "not-running"> {
  if (!(await isRunning(pid))) return "not-running";
  signalQuietly(pid, "SIGTERM");
  if (await waitFor(async () => !(await isRunning(pid)), graceMs)) return "terminated";
  signalQuietly(pid, "SIGKILL");
  await waitFor(async () => !(await isRunning(pid)), 5_000);
  return "killed";
}

/** Waits until nothing listens on address:port any more. */
export function waitForPortFree(address: string, port: number, timeoutMs = 5_000): Promise<boolean> {
  return waitFor(() => canListen(address, port), timeoutMs);
}

export async function waitFor(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  signal?: AbortSignal,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone between the check and the signal.
  }
}
