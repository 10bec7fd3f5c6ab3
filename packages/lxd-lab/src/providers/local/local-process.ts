import { readFile } from "node:fs/promises";
import { isGone, readProcStat } from "@labgate/core";
import { canListen } from "./port-owner.js";

/** Alive and not a zombie (a zombie still answers kill(pid, 0) but holds no sockets). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isGone(await readProcStat(pid));
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
