import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireFileLock, withFileLock } from "./file-lock.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("withFileLock", () => {
  it("serialises critical sections in one process", async () => {
    const target = join(dir, "state.json");
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withFileLock(target, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
  });

  it("breaks a lock left by a dead process", async () => {
    const target = join(dir, "state.json");
    // pid 2^22+ is above the default pid_max, so no live process has it.
    await writeFile(`${target}.lock`, JSON.stringify({ pid: 4_194_999, host: hostname(), createdAt: "x" }));
    const result = await withFileLock(target, async () => "ran", { timeoutMs: 2000 });
    expect(result).toBe("ran");
  });

  it("times out with a clear error while a live holder keeps it", async () => {
    const target = join(dir, "state.json");
    const release = await acquireFileLock(target);
    await expect(withFileLock(target, async () => 1, { timeoutMs: 100 })).rejects.toMatchObject({
      code: "LOCK_TIMEOUT",
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await release();
    expect(await readFile(`${target}.lock`, "utf8").catch(() => "gone")).toBe("gone");
  });
});
