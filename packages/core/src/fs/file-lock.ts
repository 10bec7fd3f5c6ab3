import { randomBytes } from "node:crypto";
import { link, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname } from "node:path";
import { StateError } from "../errors.js";
import { sleep } from "../util/sleep.js";
import { escapeRegExp, removeFilesOfDeadProcesses } from "./orphan-files.js";
import { currentProcessIdentity, isSameProcessAlive, type ProcessIdentity } from "./process-identity.js";

export { isProcessAlive } from "./process-identity.js";

export interface FileLockOptions {
  /** How long to wait for a lock held by a live process before giving up. */
  timeoutMs?: number;
  /** A lock whose owner cannot be checked (another host, unreadable) is stale after this age. */
  staleMs?: number;
}

interface LockOwner extends ProcessIdentity {
  host: string;
  createdAt: string;
}

const POLL_MIN_MS = 5;
const POLL_MAX_MS = 50;

/**
 * Runs `fn` while holding an inter-process lock on `path` (the lock is `${path}.lock`).
 * The lock file is created complete and atomically with link(2), so no reader ever sees an
 * empty owner. A lock left by a killed process on this host is detected (its pid is gone, or now
 * belongs to a process with another start time) and broken without manual work, and the temp
 * files such a process left are removed.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const release = await acquireFileLock(path, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

export async function acquireFileLock(
  path: string,
  options: FileLockOptions = {},
): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const staleMs = options.staleMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const me: LockOwner = {
    ...(await currentProcessIdentity()),
    host: hostname(),
    createdAt: new Date().toISOString(),
  };
  const body = JSON.stringify(me);

  for (;;) {
    if (await tryCreate(lockPath, body)) {
      await removeLeftovers(lockPath);
      return async () => {
        // Only remove the lock if it is still ours (it could have been broken as stale and retaken).
        const owner = await readOwner(lockPath);
        if (owner && owner.pid === me.pid && owner.host === me.host && owner.createdAt === me.createdAt) {
          await unlink(lockPath).catch(() => {});
        }
      };
    }
    const holder = await readOwner(lockPath);
    if (await isStale(lockPath, holder, staleMs)) {
      await breakStaleLock(lockPath, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new StateError(
        "LOCK_TIMEOUT",
        `Timed out after ${timeoutMs} ms waiting for the lock ${lockPath}` +
          (holder ? ` held by pid ${holder.pid} on ${holder.host} since ${holder.createdAt}` : ""),
        {
          hint: holder
            ? `Wait for that process to finish, or stop it (kill ${holder.pid}) and run the command again.`
            : `If no labgate command is running, remove ${lockPath} and run the command again.`,
        },
      );
    }
    await sleep(POLL_MIN_MS + Math.random() * (POLL_MAX_MS - POLL_MIN_MS));
  }
}

async function tryCreate(lockPath: string, body: string): Promise<boolean> {
  // keep in step with the pattern in removeLeftovers()
  const tmp = `${lockPath}.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, body, { mode: 0o600 });
    await link(tmp, lockPath);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    // Our temp file vanished before link(): a cleaner on another host took it for an orphan. Retry.
    if (code === "ENOENT" && (await directoryExists(dirname(lockPath)))) return false;
    throw new StateError(
      "LOCK_FAILED",
      `Cannot create the lock file ${lockPath}: ${(error as Error).message}`,
      {
        cause: error,
        hint: "Check that the directory exists and is writable by this user.",
        details: { path: lockPath },
      },
    );
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/**
 * A process killed while trying for the lock, or while breaking a stale one, leaves its temp file
 * or the break guard behind. The lock holder tidies them up so no litter builds up beside the state.
 */
async function removeLeftovers(lockPath: string): Promise<void> {
  const name = escapeRegExp(basename(lockPath));
  await removeFilesOfDeadProcesses(
    dirname(lockPath),
    new RegExp(`^${name}(?:\\.break)?\\.([0-9]+)\\.[0-9a-f]{8}$`),
  );
  const guard = `${lockPath}.break`;
  const guardOwner = await readOwner(guard);
  if (guardOwner && guardOwner.host === hostname() && !(await isSameProcessAlive(guardOwner))) {
    await unlink(guard).catch(() => {});
  }
}

async function directoryExists(dir: string): Promise<boolean> {
  const info = await stat(dir).catch(() => undefined);
  return info?.isDirectory() ?? false;
}

async function readOwner(lockPath: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(lockPath, "utf8")) as Partial<LockOwner>;
    if (
      typeof parsed.pid === "number" &&
      typeof parsed.host === "string" &&
      typeof parsed.createdAt === "string"
    ) {
      return {
        pid: parsed.pid,
        host: parsed.host,
        createdAt: parsed.createdAt,
        // Locks written before start times were recorded carry only the pid.
        ...(typeof parsed.startTime === "string" ? { startTime: parsed.startTime } : {}),
        ...(typeof parsed.bootId === "string" ? { bootId: parsed.bootId } : {}),
      };
    }
  } catch {
    // missing or unreadable: the caller decides by age
  }
  return undefined;
}

async function isStale(lockPath: string, holder: LockOwner | undefined, staleMs: number): Promise<boolean> {
  if (holder && holder.host === hostname()) return !(await isSameProcessAlive(holder));
  const info = await stat(lockPath).catch(() => undefined);
  if (!info) return false; // released between our attempts; simply retry
  return Date.now() - info.mtimeMs > staleMs;
}

/**
 * Two waiters may find the same stale lock. A short-lived guard lock makes only one of them
 * break it, and it re-reads the owner under the guard so a fresh lock taken meanwhile survives.
 */
async function breakStaleLock(lockPath: string, seen: LockOwner | undefined): Promise<void> {
  const guard = `${lockPath}.break`;
  const guardBody = JSON.stringify({
    ...(await currentProcessIdentity()),
    host: hostname(),
    createdAt: new Date().toISOString(),
  });
  if (!(await tryCreate(guard, guardBody))) {
    const guardOwner = await readOwner(guard);
    if (await isStale(guard, guardOwner, 5_000)) await unlink(guard).catch(() => {});
    await sleep(POLL_MIN_MS);
    return;
  }
  try {
    const now = await readOwner(lockPath);
    const same =
      seen === undefined
        ? now === undefined
        : now !== undefined && now.createdAt === seen.createdAt && now.pid === seen.pid;
    if (same) await unlink(lockPath).catch(() => {});
  } finally {
    await unlink(guard).catch(() => {});
  }
}
