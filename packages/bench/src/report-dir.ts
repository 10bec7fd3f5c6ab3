import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { BenchOptionError } from "./errors.js";

/**
 * Checks, before any traffic is sent, that `--out DIR` can be written: DIR is a writable directory,
 * or the nearest existing ancestor is one (writeReports creates the rest). Nothing is created here,
 * so a run refused for another reason leaves nothing behind. A long run must not end in "cannot write".
 */
export async function checkReportDir(dir: string): Promise<void> {
  const target = resolve(dir);
  let probe = target;
  for (;;) {
    const info = await stat(probe).catch((error: NodeJS.ErrnoException) => {
      // ENOTDIR: a file sits somewhere up the path; the parent walk reports which one.
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
      throw unusable(dir, `${probe} cannot be inspected (${error.code ?? error.message})`, error);
    });
    if (info) {
      if (!info.isDirectory()) {
        throw unusable(dir, `${probe} exists and is not a directory`);
      }
      try {
        await access(probe, constants.W_OK | constants.X_OK);
      } catch (error) {
        throw unusable(dir, `${probe} is not writable`, error);
      }
      return;
    }
    const parent = dirname(probe);
    if (parent === probe) throw unusable(dir, "no existing parent directory");
    probe = parent;
  }
}

function unusable(dir: string, problem: string, cause?: unknown): BenchOptionError {
  return new BenchOptionError(
    `--out ${dir} cannot hold the reports: ${problem}.`,
    "Pass --out with a directory you can write to (it is created if missing), e.g. --out runs/before.",
    { out: dir },
    cause,
  );
}
