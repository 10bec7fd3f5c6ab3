import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireFileLock, withFileLock } from "./file-lock.js";
import { currentBootId, processStartTime } from "./process-identity.js";

let dir: string;
const children: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-lock-"));
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** An unrelated live process, standing in for whatever got the pid of a killed lock holder. */
function startSleeper(): number {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  children.push(child);
  return child.pid as number;
}

async function exitOf(pid: number): Promise<void> {
  const child = children.find((c) => c.pid === pid);
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once("exit", resolve));
}

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

  it("breaks a lock whose pid now belongs to another process (pid reused after a kill)", async () => {
    const target = join(dir, "state.json");
    const pid = startSleeper();
    const realStart = await processStartTime(pid);
    const owner = {
      pid,
      host: hostname(),
      createdAt: "2020-01-01T00:00:00.000Z",
      startTime: `${Number(realStart) + 7}`,
      bootId: await currentBootId(),
    };
    await writeFile(`${target}.lock`, JSON.stringify(owner));
    const startedAt = Date.now();
    expect(await withFileLock(target, async () => "ran", { timeoutMs: 3000 })).toBe("ran");
    expect(Date.now() - startedAt).toBeLessThan(3000);
  });

  it("breaks a lock written before the last reboot even though its pid runs now", async () => {
    const target = join(dir, "state.json");
    const owner = {
      pid: process.pid,
      host: hostname(),
      createdAt: "2020-01-01T00:00:00.000Z",
      startTime: await processStartTime(process.pid),
      bootId: "00000000-0000-0000-0000-000000000000",
    };
    await writeFile(`${target}.lock`, JSON.stringify(owner));
    expect(await withFileLock(target, async () => "ran", { timeoutMs: 3000 })).toBe("ran");
  });

  it("keeps a lock whose holder is alive and is the recorded process, and an old pid-only lock of a live pid", async () => {
    const target = join(dir, "state.json");
    const pid = startSleeper();
    const same = {
      pid,
      host: hostname(),
      createdAt: "2020-01-01T00:00:00.000Z",
      startTime: await processStartTime(pid),
      bootId: await currentBootId(),
    };
    await writeFile(`${target}.lock`, JSON.stringify(same));
    await expect(withFileLock(target, async () => 1, { timeoutMs: 300 })).rejects.toMatchObject({
      code: "LOCK_TIMEOUT",
      exitCode: 3,
      message: expect.stringContaining(`pid ${pid}`),
    });
    await writeFile(`${target}.lock`, JSON.stringify({ pid, host: hostname(), createdAt: "x" }));
    await expect(withFileLock(target, async () => 1, { timeoutMs: 300 })).rejects.toMatchObject({
      code: "LOCK_TIMEOUT",
    });
  });

  it("the next holder removes temp files and a break guard that killed processes left", async () => {
    const target = join(dir, "state.json");
    const pid = startSleeper();
    process.kill(pid, "SIGKILL");
    await exitOf(pid);
    const live = startSleeper();
    const leftovers = [
      `state.json.lock.${pid}.0a1b2c3d`,
      `state.json.lock.break.${pid}.0a1b2c3d`,
      `state.json.lock.break`,
    ];
    await writeFile(join(dir, leftovers[0] as string), "{}");
    await writeFile(join(dir, leftovers[1] as string), "{}");
    await writeFile(
      join(dir, "state.json.lock.break"),
      JSON.stringify({ pid, host: hostname(), createdAt: new Date().toISOString() }),
    );
    // Not ours to remove: a live process's temp file, and files of other names.
    const kept = [`state.json.lock.${live}.0a1b2c3d`, `other.json.lock.${pid}.0a1b2c3d`, "state.json"];
    for (const name of kept) await writeFile(join(dir, name), "{}");

    await withFileLock(target, async () => {
      expect((await readdir(dir)).sort()).toEqual([...kept, "state.json.lock"].sort());
    });
    expect((await readdir(dir)).sort()).toEqual([...kept].sort());
  });

  it("fails with LOCK_FAILED naming the lock when its directory does not exist", async () => {
    const target = join(dir, "missing", "state.json");
    await expect(withFileLock(target, async () => 1, { timeoutMs: 300 })).rejects.toMatchObject({
      code: "LOCK_FAILED",
      message: expect.stringContaining(`${target}.lock`),
    });
  });
});
