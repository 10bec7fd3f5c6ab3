import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { BenchOptionError } from "./errors.js";
import { checkReportDir } from "./report-dir.js";
import { tempDir } from "./test-support/temp-dir.js";

async function refusal(dir: string): Promise<BenchOptionError> {
  const error = await checkReportDir(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BenchOptionError);
  expect((error as BenchOptionError).exitCode).toBe(ExitCode.INVALID_INPUT);
  expect((error as BenchOptionError).hint).toMatch(/--out/);
  return error as BenchOptionError;
}

describe("checkReportDir", () => {
  it("accepts an existing directory and creates a missing one (parents too), leaving no probe file", async () => {
    const root = await tempDir("labgate-outdir-");
    await mkdir(join(root, "existing"));
    await checkReportDir(join(root, "existing"));
    await checkReportDir(join(root, "new", "nested", "run"));
    expect((await readdir(root)).sort()).toEqual(["existing", "new"]);
    expect((await stat(join(root, "new", "nested", "run"))).isDirectory()).toBe(true);
    expect(await readdir(join(root, "existing"))).toEqual([]);
    expect(await readdir(join(root, "new", "nested", "run"))).toEqual([]);
  });

  it("refuses a path that is, or goes through, a file: exit 2 naming the file", async () => {
    const root = await tempDir("labgate-outdir-");
    const file = join(root, "a-file");
    await writeFile(file, "x");
    for (const dir of [file, join(file, "sub", "dir")]) {
      expect((await refusal(dir)).message).toContain(`${file} exists and is not a directory`);
    }
  });

  it("refuses /proc/x at once instead of hanging in a recursive mkdir", async () => {
    const error = await refusal("/proc/labgate-report-dir-test/run");
    expect(error.message).toContain("/proc/labgate-report-dir-test cannot be created (ENOENT)");
  });

  it("refuses a directory it cannot write into, even where access() would say yes (root)", async () => {
    // /proc itself is a directory in which nothing can be created, whoever runs the test.
    expect((await refusal("/proc")).message).toMatch(/\/proc is not writable/);
  });
});
