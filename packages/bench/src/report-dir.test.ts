import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { BenchOptionError } from "./errors.js";
import { checkReportDir } from "./report-dir.js";

describe("checkReportDir", () => {
  it("accepts an existing directory and a missing one under a writable parent, creating nothing", async () => {
    const root = await mkdtemp(join(tmpdir(), "labgate-outdir-"));
    await mkdir(join(root, "existing"));
    await checkReportDir(join(root, "existing"));
    await checkReportDir(join(root, "new", "nested", "run"));
    expect(await readdir(root)).toEqual(["existing"]);
  });

  it("refuses a path that is, or goes through, a file: exit 2 naming the file", async () => {
    const root = await mkdtemp(join(tmpdir(), "labgate-outdir-"));
    const file = join(root, "a-file");
    await writeFile(file, "x");
    for (const dir of [file, join(file, "sub", "dir")]) {
      const error = await checkReportDir(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BenchOptionError);
      expect((error as BenchOptionError).exitCode).toBe(ExitCode.INVALID_INPUT);
      expect((error as BenchOptionError).message).toContain(`${file} exists and is not a directory`);
      expect((error as BenchOptionError).hint).toMatch(/--out/);
    }
  });
});
