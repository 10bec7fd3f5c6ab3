import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  currentBootId,
  currentProcessIdentity,
  isProcessAlive,
  isSameProcessAlive,
  processStartTime,
} from "./process-identity.js";

const children: ChildProcess[] = [];
afterEach(() => {
  // Each child leads its own process group, so its own children (bash's sleep) go with it.
  for (const child of children.splice(0)) {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // already gone
    }
  }
});

function startSleeper(): ChildProcess {
  const child = spawn("sleep", ["30"], { stdio: "ignore", detached: true });
  children.push(child);
  return child;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once("exit", resolve));
}

describe("process identity (Linux /proc)", () => {
  it("records this process's start time and the boot id", async () => {
    const me = await currentProcessIdentity();
    expect(me.pid).toBe(process.pid);
    expect(me.startTime).toMatch(/^[0-9]+$/);
    expect(me.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(me.bootId).toBe(await currentBootId());
    expect(await isSameProcessAlive(me)).toBe(true);
  });

  it("tells two processes apart by start time even though both run", async () => {
    const child = startSleeper();
    const pid = child.pid as number;
    const startTime = await processStartTime(pid);
    expect(startTime).toMatch(/^[0-9]+$/);
    expect(await isSameProcessAlive({ pid, ...(startTime ? { startTime } : {}) })).toBe(true);
    // The same pid with another start time is what a reused pid looks like.
    expect(await isSameProcessAlive({ pid, startTime: `${Number(startTime) + 1}` })).toBe(false);
  });

  it("a process from another boot is gone, whatever runs under its pid now", async () => {
    const me = await currentProcessIdentity();
    expect(await isSameProcessAlive({ ...me, bootId: "00000000-0000-0000-0000-000000000000" })).toBe(false);
  });

  it("a killed process is gone; a pid-only identity falls back to the pid check", async () => {
    const child = startSleeper();
    const pid = child.pid as number;
    expect(await isSameProcessAlive({ pid })).toBe(true);
    child.kill("SIGKILL");
    await exited(child);
    expect(isProcessAlive(pid)).toBe(false);
    expect(await isSameProcessAlive({ pid })).toBe(false);
    expect(await processStartTime(pid)).toBeUndefined();
  });

  it("reads the start time of a process whose name contains spaces and parentheses", async () => {
    // bash renames itself, then waits; /proc/PID/stat then reads "PID (a) 1 2 (b) S ...".
    const child = spawn("bash", ["-c", "printf 'a) 1 2 (b' > /proc/$$/comm; sleep 30; exit 0"], {
      stdio: "ignore",
      detached: true,
    });
    children.push(child);
    const pid = child.pid as number;
    for (let i = 0; i < 100 && !(await readFile(`/proc/${pid}/stat`, "utf8")).includes("(a) 1 2 (b)"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await readFile(`/proc/${pid}/stat`, "utf8")).toContain("(a) 1 2 (b)");
    const startTime = await processStartTime(pid);
    const mine = await processStartTime(process.pid);
    // Started after this process; a parser splitting on every space would return a small field instead.
    expect(Number(startTime)).toBeGreaterThanOrEqual(Number(mine));
    expect(await isSameProcessAlive({ pid, ...(startTime ? { startTime } : {}) })).toBe(true);
  });
});
