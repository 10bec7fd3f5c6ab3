import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readProcStat } from "@labgate/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { LabStateStore } from "../../engine/lab-state.js";
import { describeKnown, planSteps } from "../../engine/plan-view.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import { createStepContext } from "../../engine/step-context.js";
import { sentimentAppEntry } from "../../payload/sentiment-app.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { freePorts } from "../../test-support/free-ports.js";
import { isRunning, waitFor } from "./local-process.js";
import { localProvider } from "./local-provider.js";
import { localSpecOnPorts } from "./test-support/local-spec.js";

function spec(name: string, ports: number[], python: string): LabSpec {
  return localSpecOnPorts(name, ports, {
    providerOptions: { python, verifyRequests: 4 },
    bench: { enabled: false },
  });
}

/** The argv the kernel holds for a process: what was really executed. */
async function cmdline(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter(Boolean);
}

/** The words of a planned start call before its log redirection (every word here is plain). */
function plannedWords(display: string): string[] {
  return display.slice(0, display.indexOf(" >> ")).split(" ");
}

describe("local lab: planned calls are the calls made", () => {
  let root: string;
  let stateDir: string;
  let lab: LabSpec;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "labgate-local-calls-"));
    stateDir = join(root, "lab");
    // The interpreter itself, not a wrapper (a pyenv shim would exec it and change the cmdline).
    const python = (await execa("python3", ["-c", "import sys; print(sys.executable)"])).stdout.trim();
    lab = spec("calls", await freePorts(4), python);
  });

  afterAll(async () => {
    // Whatever happened above, leave no process behind.
    const state = await new LabStateStore(stateDir).load().catch(() => undefined);
    for (const r of state?.resources ?? []) {
      const pid = r.data?.["pid"];
      if (r.kind === "process" && typeof pid === "number" && (await isRunning(pid)))
        process.kill(pid, "SIGKILL");
    }
    await rm(root, { recursive: true, force: true });
  });

  it("each start call shows the argv in /proc/<pid>/cmdline of the app or HAProxy that up started", async () => {
    await labUp({ provider: localProvider, spec: lab, stateDir, gate: autoYesGate(), log: () => {} });
    const store = new LabStateStore(stateDir);
    await store.load();
    const known = store.snapshot(lab.name, "local").resources;
    const steps = planSteps(localProvider, lab);
    for (const [stepId, name] of [
      ["start-app1", "app1"],
      ["start-app2", "app2"],
      ["start-haproxy", lab.lb.name],
    ] as const) {
      const record = known.find((r) => r.kind === "process" && r.id === name);
      const pid = record?.data?.["pid"] as number;
      const spawned = (await cmdline(pid)).map((w) => w.replace(stateDir, "<state>"));
      const step = steps.find((s) => s.description.id === stepId);
      if (!step) throw new Error(`no step ${stepId}`);
      const isStart = (c: { display: string }) => c.display.includes(" >> <state>/logs/");
      const start = describeKnown(step, lab, known).calls.find(isStart);
      expect(start?.kind, stepId).toBe("command");
      expect(plannedWords(start?.display ?? ""), stepId).toEqual(spawned);
      expect(start?.display, stepId).toContain(` >> <state>/logs/${name}.log 2>&1 &`);
      // The plan before anything ran shows the same argv (the lab's address is the configured one).
      const planned = step.description.calls.find(isStart);
      expect(planned?.display, stepId).toBe(start?.display);
      // The identity the lab recorded is the process's own: pid and start time.
      expect(record?.data?.["started"], stepId).toBe((await readProcStat(pid))?.startTime);
      // The undo gate names the recorded pid.
      const undo = describeKnown(step, lab, known).undoCalls?.[0]?.display;
      expect(undo, stepId).toMatch(new RegExp(`^kill -TERM -${pid} `));
    }
    await labDown({ provider: localProvider, spec: lab, stateDir, gate: autoYesGate(), log: () => {} });
  });

  it("never signals a recorded pid whose start time is not the recorded one; the right one it stops", async () => {
    const other = spec("calls-stale", await freePorts(4), "python3");
    const dir = join(root, "stale");
    const store = new LabStateStore(dir);
    await store.load();
    const ctx = createStepContext(store, other, localProvider, () => {}, new AbortController().signal);
    // A process whose argv carries every marker of app1 (app path, name, port): only its start time differs.
    const port = String(other.apps.ports[0]);
    const child = spawn("python3", ["-c", "import time; time.sleep(60)", sentimentAppEntry(), "app1", port], {
      stdio: "ignore",
      detached: true,
    });
    const pid = child.pid as number;
    try {
      await expect.poll(async () => (await cmdline(pid)).includes("app1"), { timeout: 10_000 }).toBe(true);
      const startTime = (await readProcStat(pid))?.startTime as string;
      const app1 = planSteps(localProvider, other).find((s) => s.description.id === "start-app1");
      if (!app1) throw new Error("no start-app1");
      const record = (started: string) =>
        ctx.record({ kind: "process", id: "app1", stepId: "start-app1", data: { pid, started, ports: [] } });

      await record(String(Number(startTime) + 1));
      await app1.actions.undo(ctx);
      expect(await isRunning(pid)).toBe(true);
      expect(ctx.resources("process")).toEqual([]);

      await record(startTime);
      await app1.actions.undo(ctx);
      expect(await waitFor(async () => !(await isRunning(pid)), 10_000)).toBe(true);
    } finally {
      if (await isRunning(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
