import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isProcessAlive } from "./process-identity.js";

/**
 * Removes the files in `dir` whose name matches `pattern` and names a process (the pattern's first
 * group is its pid) that no longer runs: the temp files a SIGKILL left between create and rename.
 * Returns the names removed. A pid that runs again (reused) keeps its file; that is only litter.
 */
export async function removeFilesOfDeadProcesses(dir: string, pattern: RegExp): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isProcessAlive(pid)) continue;
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch {
      // another cleaner was first
    }
  }
  return removed;
}

/** `a.b` → `a\.b`, for building a RegExp from a file name. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
