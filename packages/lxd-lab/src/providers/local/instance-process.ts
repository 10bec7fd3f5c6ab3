import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { spawnDetached } from "@labgate/core";
import type { ResourceRecord, StepContext } from "../../engine/step.js";
import { PortInUseError, StepFailedError } from "../../errors.js";
import { headerValue, httpProbe } from "../../verify/http-probe.js";
import { labAddress, localOptions, localPaths } from "./local-lab.js";
import { isOurProcess, isRunning, stopProcess, waitFor, waitForPortFree } from "./local-process.js";
import { canListen, describePortOwners, findPortOwners } from "./port-owner.js";

/** What a step needs to know to start, find and stop one of the lab's processes. */
export interface ManagedProcess {
  stepId: string;
  /** Resource id and file stem: "app1", "lb". */
  name: string;
  command: string;
  args: string[];
  /** argv entries that identify our process (guards pid reuse). */
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

export function recordedPid(record: ResourceRecord | undefined): number | undefined {
  const pid = record?.data?.["pid"];
  return typeof pid === "number" ? pid : undefined;
}

/** Our recorded process for `name` is alive (pid + argv markers match). */
export async function ownProcessAlive(
  ctx: StepContext,
  p: Pick<ManagedProcess, "name" | "markers">,
): Promise<number | undefined> {
  const pid = recordedPid(processRecord(ctx, p.name)) ?? (await pidFromFile(ctx.stateDir, p.name));
  return pid !== undefined && (await isOurProcess(pid, p.markers)) ? pid : undefined;
}

/**
 * The pids of the lab's own processes and their children: HAProxy runs master-worker (`-W`), so its
 * listening sockets belong to a worker whose pid was never recorded, only its master's.
 */
export async function ownLabPids(ctx: StepContext): Promise<Set<number>> {
  const own = new Set(
    ctx
      .resources("process")
      .map(recordedPid)
      .filter((p): p is number => p !== undefined),
  );
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

/** Starts the process detached, records it at once, then waits for it to become healthy. */
export async function startManagedProcess(ctx: StepContext, p: ManagedProcess): Promise<number> {
  const address = p.address ?? labAddress(ctx);
  const options = localOptions(ctx.spec);
  await assertPortsFree(p.stepId, address, p.ports);
  await mkdir(localPaths.runDir(ctx.stateDir), { recursive: true, mode: 0o700 });
  await mkdir(localPaths.logDir(ctx.stateDir), { recursive: true, mode: 0o700 });
  const logFile = localPaths.logFile(ctx.stateDir, p.name);
  const pidFile = localPaths.pidFile(ctx.stateDir, p.name);
  let pid: number;
  try {
    pid = await spawnDetached([p.command, ...p.args], logFile, { ...process.env, ...p.env });
  } catch (error) {
    throw new StepFailedError(p.stepId, `Could not start \`${p.command}\`: ${(error as Error).message}`, {
      cause: error,
      hint: `Check that ${p.command} is installed and on PATH.`,
    });
  }
  await writeFile(pidFile, `${pid}\n`, { mode: 0o600 });
  await ctx.record({
    kind: "process",
    id: p.name,
    stepId: p.stepId,
    data: {
      pid,
      command: [p.command, ...p.args].join(" "),
      address,
      ports: p.ports,
      pidFile,
      logFile,
      ...p.extraData,
    },
  });
  ctx.log(`${p.name}: started pid ${pid}; waiting for it to answer (log: ${logFile})`);
  let exited = false;
  const ok = await waitFor(
    async () => {
      // Alive, not "ours by argv": right after spawn, a wrapper (e.g. a pyenv shim) may still be exec'ing.
      if (!(await isRunning(pid))) {
        exited = true;
        return true;
      }
      return p.healthy(ctx);
    },
    options.startTimeoutMs,
    ctx.signal,
    150,
  );
  if (!ok || exited) {
    const tail = await logTail(logFile);
    throw new StepFailedError(
      p.stepId,
      exited
        ? `${p.name} (pid ${pid}) exited right after start. Last log lines:\n${tail}`
        : `${p.name} (pid ${pid}) did not become healthy within ${options.startTimeoutMs} ms. Last log lines:\n${tail}`,
      {
        hint: `Read ${logFile}; run the command by hand: ${[p.command, ...p.args].join(" ")}`,
        details: { pid, logFile },
      },
    );
  }
  return pid;
}

/** Stops our process (SIGTERM, then SIGKILL), waits for its ports, removes the pid file, forgets it. */
export async function stopManagedProcess(
  ctx: StepContext,
  p: Pick<ManagedProcess, "name" | "markers" | "ports">,
): Promise<void> {
  const record = processRecord(ctx, p.name);
  const address =
    typeof record?.data?.["address"] === "string" ? (record.data["address"] as string) : labAddress(ctx);
  const pid = recordedPid(record) ?? (await pidFromFile(ctx.stateDir, p.name));
  if (pid !== undefined && (await isOurProcess(pid, p.markers))) {
    const how = await stopProcess(pid);
    ctx.log(
      `${p.name}: pid ${pid} ${how === "killed" ? "did not stop on SIGTERM and was killed" : "stopped"}`,
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

async function pidFromFile(stateDir: string, name: string): Promise<number | undefined> {
  const text = await readFile(localPaths.pidFile(stateDir, name), "utf8").catch(() => "");
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function logTail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "(no log)");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
