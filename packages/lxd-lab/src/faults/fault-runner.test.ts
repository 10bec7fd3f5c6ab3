import { type ChildProcess, spawn } from "node:child_process";
import { readProcStat } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { isRunning, waitFor } from "../providers/local/local-process.js";
import { type FaultHandle, runFaults } from "./fault-runner.js";
import { parseFault, parseFaults } from "./fault-spec.js";
import { processFault } from "./process-fault.js";

/** A real long-running process standing in for a backend. */
const started: ChildProcess[] = [];
function startSleeper(): ChildProcess {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  started.push(child);
  return child;
}

afterEach(() => {
  for (const c of started.splice(0)) {
    if (c.pid !== undefined) {
      try {
        process.kill(c.pid, "SIGCONT");
        process.kill(c.pid, "SIGKILL");
      } catch {}
    }
  }
});

async function stateOf(pid: number): Promise<string | undefined> {
  return (await readProcStat(pid))?.state;
}

/** A backend whose process the test owns: stop/kill end it, restart starts a new one. */
function sleeperTarget() {
  let current = startSleeper();
  let restarts = 0;
  return {
    get pid() {
      return current.pid as number;
    },
    get restarts() {
      return restarts;
    },
    target: {
      pid: async () => ((await isRunning(current.pid as number)) ? (current.pid as number) : undefined),
      restart: async () => {
        restarts += 1;
        current = startSleeper();
      },
    },
  };
}

describe("runFaults on real processes", () => {
  it("pauses at its offset, resumes at its end", async () => {
    const b = sleeperTarget();
    const seen: string[] = [];
    const run = runFaults(parseFaults(["pause app2 at 100ms for 400ms"]), (f) => processFault(f, b.target));
    await waitFor(async () => (await stateOf(b.pid)) === "T", 3_000, undefined, 10);
    seen.push((await stateOf(b.pid)) as string);
    const { timelines, interrupted } = await run;
    expect(seen).toEqual(["T"]);
    expect(await stateOf(b.pid)).not.toBe("T");
    expect(interrupted).toBe(false);
    const tl = timelines[0]!;
    expect(tl.appliedAtMs).toBeGreaterThanOrEqual(100);
    expect(tl.undoReason).toBe("window-end");
    // The window is on the run clock: undone at 100 + 400 ms even when the apply timer fired late.
    expect(tl.undoAtMs!).toBeGreaterThanOrEqual(500);
  });

  it("stop: SIGTERM ends the process, the window's end starts it again through restart", async () => {
    const b = sleeperTarget();
    const first = b.pid;
    const run = runFaults(parseFaults(["stop app2 at 0ms for 300ms"]), (f) => processFault(f, b.target));
    expect(await waitFor(async () => !(await isRunning(first)), 5_000, undefined, 10)).toBe(true);
    await run;
    expect(b.restarts).toBe(1);
    expect(b.pid).not.toBe(first);
    expect(await isRunning(b.pid)).toBe(true);
  });

  it("Ctrl-C mid-fault undoes every applied fault at once and leaves later ones unapplied", async () => {
    const paused = sleeperTarget();
    const stopped = sleeperTarget();
    const untouched = sleeperTarget();
    const faults = parseFaults([
      "pause app1 at 0ms for 60s",
      "kill app2 at 0ms for 60s",
      "stop app3 at 30s for 10s",
    ]);
    const targets = [paused, stopped, untouched];
    const ac = new AbortController();
    const run = runFaults(faults, (f) => processFault(f, targets[faults.indexOf(f)]!.target), {
      signal: ac.signal,
    });
    await waitFor(
      async () => (await stateOf(paused.pid)) === "T" && !(await isRunning(stopped.pid)),
      5_000,
      undefined,
      10,
    );
    const killedPid = stopped.pid;
    const t = performance.now();
    ac.abort();
    const result = await run;
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(result.interrupted).toBe(true);
    expect(await stateOf(paused.pid)).not.toBe("T");
    expect(stopped.pid).not.toBe(killedPid);
    expect(await isRunning(stopped.pid)).toBe(true);
    expect(untouched.restarts).toBe(0);
    expect(result.timelines.map((tl) => tl.undoReason)).toEqual(["interrupted", "interrupted", undefined]);
    expect(result.timelines[2]!.appliedAtMs).toBeUndefined();
  });

  it("a fault that cannot be applied undoes the others and throws FAULT_FAILED naming it", async () => {
    const b = sleeperTarget();
    const faults = parseFaults(["pause app1 at 0ms for 60s", "stop app2 at 100ms for 1s"]);
    const gone: FaultHandle = processFault(faults[1]!, {
      pid: async () => undefined,
      restart: async () => {},
    });
    const run = runFaults(faults, (f) => (f === faults[0] ? processFault(f, b.target) : gone));
    await expect(run).rejects.toMatchObject({
      code: "FAULT_FAILED",
      message: expect.stringContaining("app2 is not running"),
      // The action's own error stays as the cause, with its code and exit code, and its hint is passed on.
      cause: { code: "FAULT_TARGET_STATE", exitCode: 4 },
      details: { fault: "stop app2 at 100ms for 1s", reason: "FAULT_TARGET_STATE" },
      hint: expect.stringMatching(
        /^Every other fault was undone\. Bring the lab back first \(`labgate lab up`\)/,
      ),
    });
    expect(await stateOf(b.pid)).not.toBe("T");
  });

  it("an undo that fails is reported with the backend that may still be faulted", async () => {
    const fault = parseFault("stop app2 at 0ms for 50ms");
    const handle: FaultHandle = {
      apply: async () => {},
      undo: async () => {
        throw new Error("start timed out");
      },
    };
    await expect(runFaults([fault], () => handle)).rejects.toMatchObject({
      code: "FAULT_FAILED",
      message: expect.stringMatching(
        /Could not undo 'stop app2 at 0ms for 50ms' \(start timed out\).*app2 may still be faulted/,
      ),
    });
  });

  it("never applies a fault before its offset: each appliedAtMs is at least its atMs", async () => {
    // Node's timers run on the loop's whole-ms clock and may fire a fraction of a ms early on
    // performance.now(); 40 offsets give that rounding every chance to show.
    const faults = parseFaults(
      Array.from({ length: 40 }, (_, i) => `drain app${i} at ${10 + i * 7}ms for 5ms`),
    );
    const noop: FaultHandle = { apply: async () => {}, undo: async () => {} };
    const result = await runFaults(faults, () => noop);
    for (const t of result.timelines) {
      expect(t.appliedAtMs, t.fault.text).toBeGreaterThanOrEqual(t.fault.atMs);
      expect(t.undoneAtMs, t.fault.text).toBeGreaterThanOrEqual(t.fault.atMs + t.fault.forMs);
    }
  });

  it("journals intent before each apply and undo", async () => {
    const entries: string[] = [];
    const handle: FaultHandle = {
      apply: async () => void entries.push("applied"),
      undo: async () => void entries.push("undone"),
    };
    await runFaults([parseFault("drain app1 at 0ms for 20ms")], () => handle, {
      journal: (e) => void entries.push(`intent ${e.phase}`),
    });
    expect(entries).toEqual(["intent apply", "applied", "intent undo", "undone"]);
  });
});
