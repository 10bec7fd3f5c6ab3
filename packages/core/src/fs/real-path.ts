import { lstat, readlink, realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { StateError } from "../errors.js";

const MAX_LINK_HOPS = 40;

/**
 * Where a state file really lives. Locking or renaming over a symlink's own path would replace the
 * link with a file and lock a different name than a writer using the real path, so two writers
 * could both win. A link whose target does not exist yet resolves to that target.
 */
export async function resolveStatePath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw unresolvable(path, error);
  }
  let current = resolve(path);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    const info = await lstat(current).catch(() => undefined);
    if (!info?.isSymbolicLink()) {
      const dir = await realpath(dirname(current)).catch(() => dirname(current));
      return join(dir, basename(current));
    }
    current = resolve(dirname(current), await readlink(current));
  }
  throw unresolvable(path, new Error(`more than ${MAX_LINK_HOPS} symbolic links`));
}

function unresolvable(path: string, cause: unknown): StateError {
  return new StateError(
    "STATE_PATH_UNRESOLVABLE",
    `Cannot resolve the state file ${path}: ${(cause as Error).message}`,
    {
      cause,
      hint: "Check the path and any symbolic links on it (a loop, or a directory that cannot be read).",
      details: { path },
    },
  );
}
