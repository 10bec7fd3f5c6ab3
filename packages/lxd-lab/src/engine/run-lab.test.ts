import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isProcessAlive } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import { autoYesGate, refusingGate } from "./gate.js";
import { LabStateStore } from "./lab-state.js";
import { assertVerified, labStatus, labVerify } from "./lab-status.js";
import { describePlan, planSteps } from "./plan-view.js";
import { labDown, labUp } from "./run-lab.js";
import { killRecordedProcesses, scriptedGate } from "./test-support/engine-test-kit.js";
import { fakeProvider } from "./test-support/fake-provider.js";

let root: string;
let stateDir: string;
let events: string[];
const spec = defaultLabSpec();

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-engine-"));
  stateDir = join(root, "labs", "demo");
  events = [];
});

afterEach(async () => {
  await killRecordedProcesses(stateDir);
  await rm(root, { recursive: true, force: true });
});

const applied = () => events.filter((e) => e.startsWith("apply:"));
const undone = () => events.filter((e) => e.startsWith("undo:"));

describe("lab up", () => {
  it("runs every step in order, records progress and resources, 0600 state in a 0700 dir", async () => {
    const provider = fakeProvider({ events });
    const lines: string[] = [];
    const result = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log: (l) => lines.push(l) });
    expect(applied()).toEqual([
      "apply:make-dir",
      "apply:write-config",
      "apply:start-server",
      "apply:write-marker",
    ]);
    expect(result.changed).toBe(true);
    expect(result.complete).toBe(true);
    expect(lines.join("\n")).toContain("$ node -e <server> <state>/work/port");
    expect(lines.join("\n")).toContain("(confirmed by --yes)");

    const info = await stat(join(stateDir, "state.json"));
    expect(info.mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    const state = JSON.parse(await readFile(join(stateDir, "state.json"), "utf8"));
    expect(Object.keys(state.steps)).toEqual(["make-dir", "write-config", "start-server", "write-marker"]);
    for (const s of Object.values(state.steps) as Array<{ status: string; doneAt: string }>) {
      expect(s.status).toBe("done");
      expect(Date.parse(s.doneAt)).toBeGreaterThan(0);
    }
    const proc = state.resources.find((r: { kind: string }) => r.kind === "process");
    expect(isProcessAlive(Number(proc.id))).toBe(true);
    expect(state.spec.name).toBe("demo");
    // No temp files or lock left next to the state.
    expect((await readdir(stateDir)).sort()).toEqual(["state.json", "work"]);
  });

  it("a second run changes nothing and says so", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const before = await readFile(join(stateDir, "state.json"), "utf8");
    events.length = 0;
    const lines: string[] = [];
    // No TTY and no --yes: still fine, because nothing needs confirming.
    const again = await labUp({ provider, spec, stateDir, gate: refusingGate(), log: (l) => lines.push(l) });
    expect(applied()).toEqual([]);
    expect(again.changed).toBe(false);
    expect(again.message).toBe("nothing to do: all 4 steps already done and verified");
    expect(again.steps.map((s) => s.outcome)).toEqual([
      "already-done",
      "already-done",
      "already-done",
      "already-done",
    ]);
    expect(lines.join("\n")).toContain("start-server: already done: pid");
    expect(await readFile(join(stateDir, "state.json"), "utf8")).toBe(before);
  });

  it("re-runs a step that is recorded done but no longer checks out (a killed server)", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const state = await new LabStateStore(stateDir).load();
    const pid = Number(state!.resources.find((r) => r.kind === "process")!.id);
    process.kill(pid, "SIGKILL");
    await waitUntil(() => !isProcessAlive(pid));
    events.length = 0;
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    expect(applied()).toEqual(["apply:start-server"]);
  });

  it("a failing step says what it ran and got, records the failure, and the next run resumes there", async () => {
    const failApply = new Set(["write-marker"]);
    const provider = fakeProvider({ events, failApply });
    const lines: string[] = [];
    const error = await labUp({
      provider,
      spec,
      stateDir,
      gate: autoYesGate(),
      log: (l) => lines.push(l),
    }).catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "write-marker", exitCode: 5 });
    expect(error.message).toContain(
      'Step "write-marker" (Write the marker) failed while running: Command failed with exit code 1',
    );
    expect(error.hint).toContain(`Next diagnostics: \`ls -l ${stateDir}/work\`, \`df -h ${stateDir}\``);
    expect(error.details).toMatchObject({
      commands: [`touch ${stateDir}/work/marker`],
      output: "touch: cannot touch 'write-marker': Permission denied",
    });
    const printed = lines.join("\n");
    expect(printed).toContain('✗ step "write-marker" failed');
    expect(printed).toContain(`$ touch ${stateDir}/work/marker`);
    expect(printed).toContain("| touch: cannot touch 'write-marker': Permission denied");
    expect(printed).toContain(`$ df -h ${stateDir}`);
    const state = await new LabStateStore(stateDir).load();
    expect(state!.steps["write-marker"]).toMatchObject({
      status: "failed",
      error: expect.stringContaining("exit code 1"),
    });

    failApply.clear();
    events.length = 0;
    const resumed = await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    expect(applied()).toEqual(["apply:write-marker"]);
    expect(resumed.steps.map((s) => s.outcome)).toEqual([
      "already-done",
      "already-done",
      "already-done",
      "applied",
    ]);
  });

  it("Ctrl-C during a step: the resource is already recorded, state says interrupted, exit 130, resume finishes", async () => {
    const controller = new AbortController();
    const provider = fakeProvider({
      events,
      holdServer: { onHeld: () => setTimeout(() => controller.abort(), 20) },
    });
    const error = await labUp({
      provider,
      spec,
      stateDir,
      gate: autoYesGate(),
      signal: controller.signal,
    }).catch((e) => e);
    expect(error).toMatchObject({ code: "INTERRUPTED", exitCode: 130 });
    const state = await new LabStateStore(stateDir).load();
    expect(state!.steps["start-server"]!.status).toBe("interrupted");
    const proc = state!.resources.find((r) => r.kind === "process");
    expect(proc).toMatchObject({ stepId: "start-server" });
    expect(applied()).not.toContain("apply:write-marker");

    // The interrupted server keeps starting on its own. Once it answers, the next run adopts it (found
    // by its record) instead of starting a second one, and goes on from the step after it.
    await expect
      .poll(
        () =>
          stat(join(stateDir, "work", "port")).then(
            () => true,
            () => false,
          ),
        { timeout: 10_000 },
      )
      .toBe(true);
    events.length = 0;
    const resumed = await labUp({ provider: fakeProvider({ events }), spec, stateDir, gate: autoYesGate() });
    expect(resumed.steps.find((s) => s.id === "start-server")?.outcome).toBe("already-done");
    expect(applied()).toEqual(["apply:write-marker"]);
    expect(resumed.complete).toBe(true);
    const after = await new LabStateStore(stateDir).load();
    expect(after!.steps["start-server"]!.status).toBe("done");
    expect(after!.resources.filter((r) => r.kind === "process").map((r) => r.id)).toEqual([proc!.id]);
    const down = await labDown({ provider: fakeProvider({ events }), spec, stateDir, gate: autoYesGate() });
    expect(down.stateRemoved).toBe(true);
    expect(isProcessAlive(Number(proc!.id))).toBe(false);
  });

  it("a check that throws stops the run with a failure naming the step, before anything runs", async () => {
    const provider = fakeProvider({ events });
    const [first, ...rest] = planSteps(provider, spec);
    const broken = {
      ...first!,
      actions: {
        ...first!.actions,
        check: async () => Promise.reject(new Error("permission denied reading /proc")),
      },
    };
    const lines: string[] = [];
    const error = await labUp({
      provider: { ...provider, plan: () => [broken, ...rest] },
      spec,
      stateDir,
      gate: autoYesGate(),
      log: (l) => lines.push(l),
    }).catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "make-dir" });
    expect(error.message).toContain(
      "failed while checking whether it is already done: permission denied reading /proc",
    );
    expect(lines.join("\n")).toContain('✗ step "make-dir" failed while checking whether it is already done');
    expect(applied()).toEqual([]);
  });

  it("an abort before a step starts stops the run without running it", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await labUp({
      provider: fakeProvider({ events }),
      spec,
      stateDir,
      gate: autoYesGate(),
      signal: controller.signal,
    }).catch((e) => e);
    expect(error).toMatchObject({ code: "INTERRUPTED", exitCode: 130 });
    expect(applied()).toEqual([]);
  });

  it("gate answers: skip leaves a step out (not recorded), no stops with exit 7, quit stops with exit 7", async () => {
    const provider = fakeProvider({ events });
    const gate = scriptedGate(["yes", "skip", "no"]);
    const error = await labUp({ provider, spec, stateDir, gate }).catch((e) => e);
    expect(gate.asked).toEqual(["apply:make-dir", "apply:write-config", "apply:start-server"]);
    expect(error).toMatchObject({ code: "DECLINED", exitCode: 7 });
    expect(applied()).toEqual(["apply:make-dir"]);
    const state = await new LabStateStore(stateDir).load();
    expect(Object.keys(state!.steps)).toEqual(["make-dir"]);

    const quit = await labUp({ provider, spec, stateDir, gate: scriptedGate(["quit"]) }).catch((e) => e);
    expect(quit).toMatchObject({ code: "QUIT", exitCode: 7 });
    expect(applied()).toEqual(["apply:make-dir"]);
  });

  it("skipping a step finishes the run but reports the lab incomplete", async () => {
    const result = await labUp({
      provider: fakeProvider({ events }),
      spec,
      stateDir,
      gate: scriptedGate(["yes", "yes", "yes", "skip"]),
    });
    expect(result.complete).toBe(false);
    expect(result.message).toContain("1 skipped");
  });

  it("without a TTY and without --yes it refuses before running anything (NOT_CONFIRMED, exit 7)", async () => {
    const lines: string[] = [];
    const error = await labUp({
      provider: fakeProvider({ events }),
      spec,
      stateDir,
      gate: refusingGate(),
      log: (l) => lines.push(l),
    }).catch((e) => e);
    expect(error).toMatchObject({ code: "NOT_CONFIRMED", exitCode: 7 });
    expect(error.hint).toContain("--yes");
    expect(applied()).toEqual([]);
    // The step is shown, but nothing claims it was confirmed.
    expect(lines.join("\n")).toContain("── step 1/4: make-dir");
    expect(lines.join("\n")).not.toContain("confirmed by --yes");
    // Nothing recorded, so neither the state dir nor the parent this run created is left behind.
    await expect(stat(stateDir)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(stat(join(root, "labs"))).rejects.toMatchObject({ code: "ENOENT" });
    expect((await stat(root)).isDirectory()).toBe(true);
  });

  it("a refused run leaves a state dir that existed before it in place", async () => {
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(root, "labs", "keep.txt"), "mine");
    await labUp({ provider: fakeProvider({ events }), spec, stateDir, gate: refusingGate() }).catch(() => {});
    expect(await readdir(stateDir)).toEqual([]);
    expect(await readFile(join(root, "labs", "keep.txt"), "utf8")).toBe("mine");
  });

  it("--step runs one step and --from resumes from one; unknown ids list the real ones", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate(), step: "make-dir" });
    expect(applied()).toEqual(["apply:make-dir"]);
    events.length = 0;
    await labUp({ provider, spec, stateDir, gate: autoYesGate(), from: "start-server" });
    expect(events.filter((e) => e.startsWith("check:"))).toEqual([
      "check:start-server",
      "check:write-marker",
    ]);
    expect(applied()).toEqual(["apply:start-server", "apply:write-marker"]);
    const unknown = await labUp({ provider, spec, stateDir, gate: autoYesGate(), step: "nope" }).catch(
      (e) => e,
    );
    expect(unknown).toMatchObject({ code: "UNKNOWN_STEP", exitCode: 2 });
    expect(unknown.hint).toContain("make-dir, write-config, start-server, write-marker");
    const both = await labUp({
      provider,
      spec,
      stateDir,
      gate: autoYesGate(),
      step: "make-dir",
      from: "make-dir",
    }).catch((e) => e);
    expect(both).toMatchObject({ code: "STEP_SELECTION" });
    await labDown({ provider, spec, stateDir, gate: autoYesGate() });
  });

  it("a corrupt state file is a clear error naming the path (exit 3), and is left as it was", async () => {
    await new LabStateStore(stateDir).ensureDir();
    await writeFile(join(stateDir, "state.json"), "{ half written");
    const error = await labUp({
      provider: fakeProvider({ events }),
      spec,
      stateDir,
      gate: autoYesGate(),
    }).catch((e) => e);
    expect(error).toMatchObject({ code: "STATE_CORRUPT", exitCode: 3 });
    expect(error.message).toContain(join(stateDir, "state.json"));
    expect(await readFile(join(stateDir, "state.json"), "utf8")).toBe("{ half written");
    await writeFile(
      join(stateDir, "state.json"),
      JSON.stringify({ version: 1, steps: {}, resources: [{ kind: "x" }] }),
    );
    const shape = await labStatus({ provider: fakeProvider({ events }), spec, stateDir }).catch((e) => e);
    expect(shape).toMatchObject({ code: "STATE_CORRUPT" });
    expect(shape.message).toContain("resources[0]");
    expect(applied()).toEqual([]);
  });

  it("a second concurrent run on the same lab fails fast naming the holder", async () => {
    const controller = new AbortController();
    let held!: () => void;
    const heldPromise = new Promise<void>((r) => {
      held = r;
    });
    const first = labUp({
      provider: fakeProvider({ events, holdServer: { onHeld: () => held() } }),
      spec,
      stateDir,
      gate: autoYesGate(),
      signal: controller.signal,
    });
    await heldPromise;
    const second = await labUp({
      provider: fakeProvider({ events: [] }),
      spec,
      stateDir,
      gate: autoYesGate(),
    }).catch((e) => e);
    expect(second).toMatchObject({ code: "LOCK_TIMEOUT", exitCode: 3 });
    expect(second.message).toContain(`pid ${process.pid}`);
    controller.abort();
    await first.catch(() => {});
  });

  it("concurrent records from one step all land in the state file", async () => {
    const store = new LabStateStore(stateDir);
    const { createStepContext } = await import("./step-context.js");
    const ctx = createStepContext(
      store,
      spec,
      fakeProvider({ events }),
      () => {},
      new AbortController().signal,
    );
    await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        ctx.record({ kind: "file", id: `f${i}`, stepId: "s", data: { password: "hunter22" } }),
      ),
    );
    const state = await store.load();
    expect(state!.resources.map((r) => r.id).sort()).toEqual(
      Array.from({ length: 15 }, (_, i) => `f${i}`).sort(),
    );
    expect(JSON.stringify(state)).not.toContain("hunter22");
    await ctx.forget("file", "f3");
    expect(ctx.resources("file")).toHaveLength(14);
    expect((await readdir(stateDir)).filter((f) => f.endsWith(".tmp") || f.endsWith(".lock"))).toEqual([]);
  });
});

describe("lab down", () => {
  it("undoes in reverse order, forgets resources, kills the process and removes the state dir", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const pid = Number(
      (await new LabStateStore(stateDir).load())!.resources.find((r) => r.kind === "process")!.id,
    );
    const result = await labDown({ provider, spec, stateDir, gate: autoYesGate() });
    expect(undone()).toEqual([
      "undo:write-marker",
      "undo:start-server",
      "undo:write-config",
      "undo:make-dir",
    ]);
    expect(result.stateRemoved).toBe(true);
    expect(isProcessAlive(pid)).toBe(false);
    await expect(stat(stateDir)).rejects.toMatchObject({ code: "ENOENT" });

    events.length = 0;
    const again = await labDown({ provider, spec, stateDir, gate: refusingGate() });
    expect(undone()).toEqual([]);
    expect(again.message).toContain("nothing to undo");
    await expect(stat(stateDir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a step left in place keeps the state and says what is still recorded", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const gate = scriptedGate(["yes", "skip", "yes", "yes"]);
    const result = await labDown({ provider, spec, stateDir, gate });
    expect(gate.asked).toEqual([
      "undo:write-marker",
      "undo:start-server",
      "undo:write-config",
      "undo:make-dir",
    ]);
    expect(result.stateRemoved).toBe(false);
    expect(result.message).toMatch(/still recorded: process \d+/);
    const state = await new LabStateStore(stateDir).load();
    expect(Object.keys(state!.steps)).toEqual(["start-server"]);
    await labDown({ provider, spec, stateDir, gate: autoYesGate() });
    await expect(stat(stateDir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("without a TTY and without --yes it refuses before undoing anything", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const error = await labDown({ provider, spec, stateDir, gate: refusingGate() }).catch((e) => e);
    expect(error).toMatchObject({ code: "NOT_CONFIRMED", exitCode: 7 });
    expect(undone()).toEqual([]);
    await labDown({ provider, spec, stateDir, gate: autoYesGate() });
  });
});

describe("plan, status, verify", () => {
  it("describePlan is pure data with every step's why and commands", () => {
    const plan = describePlan(fakeProvider({ events }), spec);
    expect(plan.steps.map((s) => s.id)).toEqual(["make-dir", "write-config", "start-server", "write-marker"]);
    expect(plan.steps[2]).toMatchObject({ index: 3, commands: ["node -e <server> <state>/work/port"] });
    expect(events).toEqual([]);
  });

  it("status shows recorded and live state of each step and each resource's health", async () => {
    const provider = fakeProvider({ events });
    const empty = await labStatus({ provider, spec, stateDir });
    expect(empty.exists).toBe(false);
    expect(empty.steps.every((s) => s.recorded === "pending")).toBe(true);
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const up = await labStatus({ provider, spec, stateDir });
    expect(up.healthy).toBe(true);
    expect(up.resources.find((r) => r.kind === "process")).toMatchObject({ health: "healthy" });
    const pid = Number(up.resources.find((r) => r.kind === "process")!.id);
    process.kill(pid, "SIGKILL");
    await waitUntil(() => !isProcessAlive(pid));
    const down = await labStatus({ provider, spec, stateDir });
    expect(down.healthy).toBe(false);
    expect(down.resources.find((r) => r.kind === "process")).toMatchObject({
      health: "unhealthy",
      detail: `pid ${pid} not answering`,
    });
    expect(down.steps.find((s) => s.id === "start-server")).toMatchObject({
      recorded: "done",
      live: { done: false },
    });
    const verify = await labVerify({ provider, spec, stateDir });
    expect(verify.passed).toBe(false);
    expect(() => assertVerified(verify, spec)).toThrow(
      expect.objectContaining({ code: "LAB_VERIFY_FAILED", exitCode: 1 }),
    );
    await labDown({ provider, spec, stateDir, gate: autoYesGate() });
  });

  it("verify passes through the provider hook; a provider without the hook is a clear precondition error", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const result = await labVerify({ provider, spec, stateDir, verify: { requests: 4 } });
    expect(result).toMatchObject({ passed: true, summary: "4/4 served by fake" });
    const bare = { name: "bare", plan: provider.plan };
    const elsewhere = join(root, "never-built");
    await expect(labVerify({ provider, spec, stateDir: elsewhere })).rejects.toMatchObject({
      code: "LAB_NOT_BUILT",
      exitCode: 4,
      message: expect.stringContaining(elsewhere),
    });
    await expect(labVerify({ provider: bare, spec, stateDir })).rejects.toMatchObject({
      code: "VERIFY_UNSUPPORTED",
      exitCode: 4,
    });
    await labDown({ provider, spec, stateDir, gate: autoYesGate() });
  });
});

async function waitUntil(test: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !test(); i++) await new Promise((r) => setTimeout(r, 10));
}
