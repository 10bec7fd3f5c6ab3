import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { type ProcStat, readProcStat } from "../process/proc-stat.js";

/** The process is still the one we started: same pid and same start time (pids are reused). */
export async function sameProcess(pid: number, startTime: string): Promise<ProcStat | undefined> {
  const stat = await readProcStat(pid);
  return stat && stat.startTime === startTime ? stat : undefined;
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
