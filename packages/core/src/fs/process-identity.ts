import { readFile } from "node:fs/promises";
import { readProcStat } from "../process/proc-stat.js";

/**
 * Who a process is, beyond its pid. Pids are reused (after a reboot, in a container that restarts,
 * or simply after enough processes), so a lock that names only a pid could be taken for the lock of
 * an unrelated live process forever. The kernel's boot id and the process's start time make the
 * identity unique on Linux; elsewhere both are undefined and only the pid is compared.
 */
export interface ProcessIdentity {
  pid: number;
  /** Start time of the process in clock ticks since boot (field 22 of /proc/PID/stat). */
  startTime?: string;
  /** /proc/sys/kernel/random/boot_id: changes on every boot. */
  bootId?: string;
}

export async function processStartTime(pid: number): Promise<string | undefined> {
  return (await readProcStat(pid))?.startTime;
}

let bootIdCache: Promise<string | undefined> | undefined;

export function currentBootId(): Promise<string | undefined> {
  bootIdCache ??= readFile("/proc/sys/kernel/random/boot_id", "utf8").then(
    (text) => text.trim() || undefined,
    () => undefined,
  );
  return bootIdCache;
}

export async function currentProcessIdentity(): Promise<ProcessIdentity> {
  const [startTime, bootId] = await Promise.all([processStartTime(process.pid), currentBootId()]);
  return {
    pid: process.pid,
    ...(startTime === undefined ? {} : { startTime }),
    ...(bootId === undefined ? {} : { bootId }),
  };
}

/** Whether any process with that pid exists (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the process described by `identity` (recorded on this host) still runs. A live pid whose
 * start time or boot differs from the recorded one is a different process that reused the pid.
 */
export async function isSameProcessAlive(identity: ProcessIdentity): Promise<boolean> {
  if (identity.bootId !== undefined) {
    const bootId = await currentBootId();
    if (bootId !== undefined && bootId !== identity.bootId) return false;
  }
  if (!isProcessAlive(identity.pid)) return false;
  if (identity.startTime === undefined) return true;
  const startTime = await processStartTime(identity.pid);
  return startTime === undefined || startTime === identity.startTime;
}
