import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { escapeRegExp, removeFilesOfDeadProcesses } from "./orphan-files.js";

export interface AtomicWriteOptions {
  /** File mode of the result; state files default to 0600 because they may name hosts and owners. */
  mode?: number;
}

/**
 * Writes `data` to `path` so that readers see either the old file or the new one, never a half:
 * temp file in the same directory, fsync, rename over the target, fsync the directory.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  // keep in step with tempFilePattern()
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.writeFile(data);
    // The umask may have narrowed or widened the mode passed to open().
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  await syncDirectory(dir);
}

/**
 * Removes temp files that writers of `path` killed before their rename left behind. Call it while
 * holding the lock that guards `path`: then no live writer of this host can own such a file.
 */
export function removeOrphanTempFiles(path: string): Promise<string[]> {
  return removeFilesOfDeadProcesses(dirname(path), tempFilePattern(path));
}

function tempFilePattern(path: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(basename(path))}\\.([0-9]+)\\.[0-9a-f]{12}\\.tmp$`);
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable; some filesystems refuse fsync on directories, which is harmless.
  const handle = await open(dir, "r").catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // not supported here
  } finally {
    await handle.close();
  }
}
