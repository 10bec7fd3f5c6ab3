import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import {
  logTail,
  ownedProcess,
  type ProcessNode,
  startProcessNode,
  stopProcessNode,
  waitForProcessNode,
} from "@labgate/core";
import type { ResourceRecord, StepContext } from "../../engine/step.js";
import { PortInUseError, StepFailedError } from "../../errors.js";
import { headerValue, httpProbe } from "../../verify/http-probe.js";
import { labAddress, localOptions, localPaths } from "./local-lab.js";
import { waitForPortFree } from "./local-process.js";
import { canListen, describePortOwners, findPortOwners } from "./port-owner.js";

/** What a step needs to know to start, find and stop one of the lab's processes. */
export interface ManagedProcess {
  stepId: string;
  /** Resource id and file stem: "app1", "lb". */
  name: string;
  /** What is started, exactly as the plan shows it (startCall). */
  argv: [string, ...string[]];
  /**
   * argv entries that say the process runs the spec's current configuration (its app path, name, port).
   * Identity is the recorded pid and start time; markers only tell a stale configuration from the current.
   */
  markers: string[];
  /** Ports it listens on (all must be free before it starts and after it stops). */
  ports: number[];
  /** The address it listens on, when not the lab's (an app in its own network namespace). */
  address?: string;
  /** Health probe: resolves true when the process serves correctly. */
  healthy(ctx: StepContext): Promise<boolean>;
  extraData?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export function processRecord(ctx: StepContext, name: string): ResourceRecord | undefined {
  return ctx.resources("process").find((r) => r.id === name);
}

/**
 * The process node a record names: its pid and the start time read right after it started. A record
 * without a start time (written by an older labgate) names no process that can be proven ours.
 */
export function recordedNode(record: ResourceRecord | undefined): ProcessNode | undefined {
  const pid = record?.data?.["pid"];
  const startTime = record?.data?.["started"];
  return typeof pid === "number" && typeof startTime === "string" ? { pid, startTime } : undefined;
}

/** Our recorded process for `name` runs (same pid and start time) with the spec's markers; its pid. */
export async function ownProcessAlive(
  ctx: StepContext,
  p: Pick<ManagedProcess, "name" | "markers">,
): Promise<number | undefined> {
  const node = recordedNode(processRecord(ctx, p.name));
  return node && (await ownedProcess(node, p.markers)) ? node.pid : undefined;
}

/**
 * The pids of the lab's own processes and their children: HAProxy runs master-worker (`-W`), so its
 * listening sockets belong to a worker whose pid was never recorded, only its master's.
 */
export async function ownLabPids(ctx: StepContext): Promise<Set<number>> {
  const own = new Set<number>();
  for (const record of ctx.resources("process")) {
    const node = recordedNode(record);
    if (node && (await ownedProcess(node))) own.add(node.pid);
  }
  for (const pid of [...own]) for (const child of await childPids(pid)) own.add(child);
  return own;
}

async function childPids(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const children: number[] = [];
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, "utf8").catch(() => "");
    for (const c of text.trim().split(/\s+/)) if (/^\d+$/.test(c)) children.push(Number(c));
  }
  return children;
}

/** Throws PortInUseError naming the holder when a port is taken. */
export async function assertPortsFree(stepId: string, address: string, ports: number[]): Promise<void> {
  for (const port of ports) {
    if (await canListen(address, port)) continue;
    const owners = await findPortOwners(port);
    throw new PortInUseError(
      `Step ${stepId}: port ${address}:${port} is already in use by ${describePortOwners(owners)}.`,
      `Stop that process, or pick other ports in the lab spec (apps.ports, lb.port, lb.statsPort). Inspect with \`ss -ltnp 'sport = :${port}'\`.`,
      { address, port, owners },
    );
  }
}

/**
 * Starts the process detached (core's process node), records its pid and start time at once, writes its
 * pid file, then waits for it to become healthy.
 */
export async function startManagedProcess(ctx: StepContext, p: ManagedProcess): Promise<number> {
  const address = p.address ?? labAddress(ctx);
  const options = localOptions(ctx.spec);
  await assertPortsFree(p.stepId, address, p.ports);
  await mkdir(localPaths.runDir(ctx.stateDir), { recursive: true, mode: 0o700 });
  const logFile = localPaths.logFile(ctx.stateDir, p.name);
  const pidFile = localPaths.pidFile(ctx.stateDir, p.name);
  const [command] = p.argv;
  let node: ProcessNode | undefined;
  try {
    node = await startProcessNode(p.argv, logFile, { ...process.env, ...p.env });
  } catch (error) {
    throw new StepFailedError(p.stepId, `Could not start \`${command}\`: ${(error as Error).message}`, {
      cause: error,
      hint: `Check that ${command} is installed and on PATH.`,
    });
  }
  if (!node) throw await exitedAtStart(p, logFile);
  const { pid } = node;
  await ctx.record({
    kind: "process",
    id: p.name,
    stepId: p.stepId,
    data: {
      pid,
      started: node.startTime,
      command: p.argv.join(" "),
      address,
      ports: p.ports,
      pidFile,
      logFile,
      ...p.extraData,
    },
  });
  await writeFile(pidFile, `${pid}\n`, { mode: 0o600 });
  ctx.log(`${p.name}: started pid ${pid}; waiting for it to answer (log: ${logFile})`);
  try {
    // Ours by start time, not by argv: right after spawn, a wrapper (e.g. a pyenv shim) may still be exec'ing.
    await waitForProcessNode(node, () => p.healthy(ctx), `Waiting for ${p.name} (pid ${pid}) to answer`, {
      timeoutMs: options.startTimeoutMs,
      intervalMs: 150,
      signal: ctx.signal,
    });
  } catch (error) {
    const code = ctx.signal.aborted ? undefined : (error as { code?: unknown }).code;
    if (code === "PLATFORM_WAIT_FAILED") throw await exitedAtStart(p, logFile, pid);
    if (code !== "PLATFORM_WAIT_TIMEOUT") throw error;
    throw new StepFailedError(
      p.stepId,
      `${p.name} (pid ${pid}) did not become healthy within ${options.startTimeoutMs} ms. Last log lines:\n${await logTail(logFile, 15)}`,
      { hint: `Read ${logFile}; run the command by hand: ${p.argv.join(" ")}`, details: { pid, logFile } },
    );
  }
  return pid;
}

async function exitedAtStart(p: ManagedProcess, logFile: string, pid?: number): Promise<StepFailedError> {
  return new StepFailedError(
    p.stepId,
    `${p.name}${pid === undefined ? "" : ` (pid ${pid})`} exited right after start. Last log lines:\n${await logTail(logFile, 15)}`,
    {
      hint: `Read ${logFile}; run the command by hand: ${p.argv.join(" ")}`,
      details: { ...(pid === undefined ? {} : { pid }), logFile },
    },
  );
}

/**
 * Stops our process group (SIGTERM, then SIGKILL: core's process node), waits for its ports, removes the
 * pid file and forgets it. A pid that is not the recorded process (start time differs) is never signalled.
 */
export async function stopManagedProcess(
  ctx: StepContext,
  p: Pick<ManagedProcess, "name" | "markers" | "ports">,
): Promise<void> {
  const record = processRecord(ctx, p.name);
  const address =
    typeof record?.data?.["address"] === "string" ? (record.data["address"] as string) : labAddress(ctx);
  const node = recordedNode(record);
  const legacyPid = record?.data?.["pid"];
  if (!node && typeof legacyPid === "number") {
    ctx.log(
      `${p.name}: left pid ${legacyPid} alone: its record has no start time (an older labgate wrote it), so it cannot be proven to be ${p.name} still; if it is, stop it yourself: kill ${legacyPid}`,
    );
  }
  if (node && (await ownedProcess(node, p.markers))) {
    const how = await stopProcessNode(node, { name: p.name });
    ctx.log(
      `${p.name}: pid ${node.pid} ${how === "killed" ? "did not stop on SIGTERM and was killed" : "stopped"}`,
    );
  }
  const recordedPorts = record?.data?.["ports"];
  const ports = Array.isArray(recordedPorts)
    ? recordedPorts.filter((x): x is number => typeof x === "number")
    : p.ports;
  for (const port of ports) {
    if (!(await waitForPortFree(address, port, 5_000))) {
      ctx.log(
        `${p.name}: port ${address}:${port} is still held by ${describePortOwners(await findPortOwners(port))}`,
      );
    }
  }
  await rm(localPaths.pidFile(ctx.stateDir, p.name), { force: true });
  if (record) await ctx.forget("process", p.name);
}

/** GET url; true when 200 and (if given) X-Served-By equals `servedBy`. */
export async function answers(
  url: string,
  servedBy?: string | string[],
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    const res = await httpProbe(url, { timeoutMs: 2_000, ...(signal ? { signal } : {}) });
    if (res.status !== 200) return false;
    if (servedBy === undefined) return true;
    const got = headerValue(res, "x-served-by");
    return Array.isArray(servedBy) ? got !== undefined && servedBy.includes(got) : got === servedBy;
  } catch {
    return false;
  }
}
