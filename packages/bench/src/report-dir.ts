import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { BenchOptionError } from "./errors.js";

/**
 * Makes sure, before any traffic is sent, that `--out DIR` can hold the reports: DIR is created
 * (with its missing parents) and a probe file is written and removed in it. A long run must not end in
 * "cannot write", and a directory that cannot exist (/proc/x) must be refused, not retried forever.
 */
export async function checkReportDir(dir: string): Promise<void> {
  const target = await ensureReportDir(dir);
  const probe = join(target, `.labgate-write-probe-${process.pid}`);
  try {
    await writeFile(probe, "", { flag: "wx" });
  } catch (error) {
    throw unusable(
      dir,
      `${target} is not writable (${(error as NodeJS.ErrnoException).code ?? error})`,
      error,
    );
  }
  await rm(probe, { force: true });
}

/**
 * Creates `dir` and its missing parents one level at a time. Node's `mkdir({recursive: true})` loops
 * forever on paths such as /proc/x (the kernel answers ENOENT for a parent that exists), so it is not
 * used for report directories.
 */
export async function ensureReportDir(dir: string): Promise<string> {
  const target = resolve(dir);
  const missing: string[] = [];
  let probe = target;
  for (;;) {
    const info = await stat(probe).catch((error: NodeJS.ErrnoException) => {
      // ENOTDIR: a file sits somewhere up the path; the parent walk reports which one.
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
      throw unusable(dir, `${probe} cannot be inspected (${error.code ?? error.message})`, error);
    });
    if (info) {
      // Writability shows in the mkdir below and in checkReportDir's probe file (access() lies for root).
      if (!info.isDirectory()) throw unusable(dir, `${probe} exists and is not a directory`);
      break;
    }
    const parent = dirname(probe);
    if (parent === probe) throw unusable(dir, "no existing parent directory");
    missing.unshift(probe);
    probe = parent;
  }
  for (const path of missing) {
    try {
      await mkdir(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another run may have created it in between.
      if (code === "EEXIST" && (await stat(path).catch(() => undefined))?.isDirectory()) continue;
      throw unusable(dir, `${path} cannot be created (${code ?? (error as Error).message})`, error);
    }
  }
  return target;
}

function unusable(dir: string, problem: string, cause?: unknown): BenchOptionError {
  return new BenchOptionError(
    `--out ${dir} cannot hold the reports: ${problem}.`,
    "Pass --out with a directory you can write to (it is created if missing), e.g. --out runs/before.",
    { out: dir },
    cause,
  );
}
