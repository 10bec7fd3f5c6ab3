import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { connect } from "node:net";

/** What /proc/<pid>/stat says about a process: its state letter and its start time (clock ticks since boot). */
export interface ProcStat {
  state: string;
  startTime: string;
}

/**
 * Starts `argv` in its own session (so it outlives the CLI and can be signalled as a group), stdout and
 * stderr appended to `logFile` (created 0600). Resolves with the pid once the OS has started it.
 */
export function spawnDetached(
  argv: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const [command, ...args] = argv as [string, ...string[]];
  const fd = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(command, args, { detached: true, stdio: ["ignore", fd, fd], env });
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

/** Undefined when there is no such process. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!text) return undefined;
  // The command name (field 2) may contain spaces and parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  return state && startTime ? { state, startTime } : undefined;
}

/** The process is still the one we started: same pid and same start time (pids are reused). */
export async function sameProcess(pid: number, startTime: string): Promise<ProcStat | undefined> {
  const stat = await readProcStat(pid);
  return stat && stat.startTime === startTime ? stat : undefined;
}

export function isGone(stat: ProcStat | undefined): boolean {
  return stat === undefined || stat.state === "Z" || stat.state === "X";
}

/** Signals the process group the node leads (its children too), or the process alone if it has none. */
export function signalNode(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone between the check and the signal.
    }
  }
}

/** Whether something accepts TCP connections on address:port (the caller keeps address on loopback). */
export function acceptsConnections(address: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export async function logTail(file: string, lines = 10): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "(no log)");
  return text.trimEnd().split("\n").slice(-lines).join("\n") || "(empty log)";
}
