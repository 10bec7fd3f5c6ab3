import { mkdir, readFile } from "node:fs/promises";
import { connect } from "node:net";
import { dirname } from "node:path";
import { isGone, type ProcStat, readProcStat } from "../process/proc-stat.js";
import { spawnDetached } from "../process/spawn-detached.js";
import type { WaitOptions } from "./types.js";
import { pollUntil } from "./wait.js";

/**
 * A process node: a process labgate started on this machine, in its own session. Its pid alone does not
 * identify it (pids are reused); its pid and start time do. The local deploy platform and the local lab
 * both start, recognise and stop their processes through the functions below.
 */
export interface ProcessNode {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22), read right after the start. */
  startTime: string;
}

/**
 * Starts `argv` detached (own session, output appended to `logFile`, its directory made 0700) and reads
 * the identity it will be recognised by. Undefined when the process is already gone (it exited at once);
 * rejects when it cannot be started at all (no such program).
 */
export async function startProcessNode(
  argv: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
): Promise<ProcessNode | undefined> {
  await mkdir(dirname(logFile), { recursive: true, mode: 0o700 });
  const pid = await spawnDetached(argv, logFile, env);
  const stat = await readProcStat(pid);
  return isGone(stat) ? undefined : { pid, startTime: (stat as ProcStat).startTime };
}

/** The process is still the one we started: same pid and same start time (pids are reused). */
export async function sameProcess(pid: number, startTime: string): Promise<ProcStat | undefined> {
  const stat = await readProcStat(pid);
  return stat && stat.startTime === startTime ? stat : undefined;
}

/**
 * The node runs and is ours: same pid and start time, not a zombie, and every marker (an argv entry that
 * says which configuration it runs) in its command line. Only a node this answers for may be signalled.
 */
export async function ownedProcess(node: ProcessNode, markers: readonly string[] = []): Promise<boolean> {
  if (isGone(await sameProcess(node.pid, node.startTime))) return false;
  if (markers.length === 0) return true;
  const argv = await processArgv(node.pid);
  return argv !== undefined && markers.every((m) => argv.includes(m));
}

/** The process's argv, or undefined when it is gone. */
export async function processArgv(pid: number): Promise<string[] | undefined> {
  const raw = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (!raw) return undefined;
  return raw.split("\0").filter(Boolean);
}

/** Alive and not a zombie (a zombie still answers kill(pid, 0) but runs nothing and holds no sockets). */
export async function processRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isGone(await readProcStat(pid));
}

/**
 * Polls `ready` (the caller's notion: a port accepts, /health answers) while the node is still the process
 * that was started. Throws PLATFORM_WAIT_FAILED at once when it has exited, PLATFORM_WAIT_TIMEOUT after the
 * timeout, INTERRUPTED when the signal aborts (pollUntil's errors).
 */
export async function waitForProcessNode(
  node: ProcessNode,
  ready: () => Promise<boolean>,
  what: string,
  options: WaitOptions = {},
): Promise<void> {
  await pollUntil(
    what,
    async () => ((await ownedProcess(node)) ? ((await ready()) ? "ready" : "starting") : "exited"),
    (state) => state === "ready",
    { ...options, failed: (state) => (state === "exited" ? "the node no longer exists" : undefined) },
  );
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

export interface StopProcessNodeOptions {
  /** How long to wait after SIGTERM before SIGKILL (default 5 s). */
  graceMs?: number;
  /** Told each signal as it is sent, as a person would type it: "kill -TERM -4242". */
  onSignal?: (display: string) => void;
  /** Names the node in the timeout message. */
  name?: string;
}

/**
 * Ends the node's process group: SIGTERM (and SIGCONT, since a paused node cannot act on it), then
 * SIGKILL after the grace period. A pid whose start time differs is another process: it is not signalled.
 */
export async function stopProcessNode(
  node: ProcessNode,
  options: StopProcessNodeOptions = {},
): Promise<"not-running" | "terminated" | "killed"> {
  const { pid } = node;
  const probe = () => sameProcess(pid, node.startTime);
  if (isGone(await probe())) return "not-running";
  const send = (signal: "TERM" | "KILL") => {
    options.onSignal?.(`kill -${signal} -${pid}`);
    signalNode(pid, `SIG${signal}`);
  };
  const gone = (timeoutMs: number) =>
    pollUntil(`Waiting for ${options.name ?? "process"} (pid ${pid}) to exit`, probe, isGone, {
      timeoutMs,
      intervalMs: 50,
    });
  send("TERM");
  signalNode(pid, "SIGCONT");
  try {
    await gone(options.graceMs ?? 5_000);
    return "terminated";
  } catch {
    send("KILL");
    await gone(5_000);
    return "killed";
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
