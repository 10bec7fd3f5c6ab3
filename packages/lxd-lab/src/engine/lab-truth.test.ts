import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isProcessAlive } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import { autoYesGate } from "./gate.js";
import { LabStateStore } from "./lab-state.js";
import { labStatus } from "./lab-status.js";
import { planSteps } from "./plan-view.js";
import { labDown, labUp } from "./run-lab.js";
import { killRecordedProcesses, scriptedGate } from "./test-support/engine-test-kit.js";
import { fakeProvider } from "./test-support/fake-provider.js";

let root: string;
let stateDir: string;
let events: string[];
const spec = defaultLabSpec();

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-truth-"));
  stateDir = join(root, "labs", "demo");
  events = [];
});

afterEach(async () => {
  for (const dir of [stateDir, root]) await killRecordedProcesses(dir);
  await rm(root, { recursive: true, force: true });
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("ownership of the state dir", () => {
  it("down removes what labgate wrote and keeps files it did not write, and then the dir too", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    await writeFile(join(stateDir, "my-notes.txt"), "the user's own file");
    const result = await labDown({ provider, spec, stateDir, gate: autoYesGate() });
    expect(await readdir(stateDir)).toEqual(["my-notes.txt"]);
    expect(result.stateRemoved).toBe(false);
    expect(result.keptForeign).toEqual(["my-notes.txt"]);
    expect(result.message).toContain("holds files labgate did not create (my-notes.txt)");
  });

  it("--state-dir . in a project folder: no chmod, the folder and lab.yaml stay, labgate's files go", async () => {
    const project = join(root, "project");
    await mkdir(project, { mode: 0o755 });
    await chmod(project, 0o755);
    await writeFile(join(project, "lab.yaml"), "name: demo\n");
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir: project, gate: autoYesGate() });
    expect((await stat(project)).mode & 0o777).toBe(0o755);
    expect((await readdir(project)).sort()).toEqual(["lab.yaml", "state.json", "work"]);
    const result = await labDown({ provider, spec, stateDir: project, gate: autoYesGate() });
    expect(await readdir(project)).toEqual(["lab.yaml"]);
    expect(await readFile(join(project, "lab.yaml"), "utf8")).toBe("name: demo\n");
    expect(result.stateRemoved).toBe(false);
    expect(result.message).toContain("labgate's files removed");
  });

  it("an empty state dir that existed before the lab is kept", async () => {
    await mkdir(stateDir, { recursive: true });
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const result = await labDown({ provider, spec, stateDir, gate: autoYesGate() });
    expect(await readdir(stateDir)).toEqual([]);
    expect(result.message).toContain("it existed before the lab");
  });

  it("a state dir shared by mistake: the second lab is refused (exit 3, naming the first), the first is untouched", async () => {
    const first = fakeProvider({ events });
    await labUp({ provider: first, spec, stateDir, gate: autoYesGate() });
    const state = await new LabStateStore(stateDir).load();
    const pid = Number(state!.resources.find((r) => r.kind === "process")!.id);
    const before = await readFile(join(stateDir, "state.json"), "utf8");
    events.length = 0;
    const other = { ...spec, name: "other" };
    for (const run of [labUp, labDown]) {
      const error = await run({ provider: first, spec: other, stateDir, gate: autoYesGate() }).catch(
        (e) => e,
      );
      expect(error).toMatchObject({ code: "STATE_DIR_OTHER_LAB", exitCode: 3 });
      expect(error.message).toContain('lab "demo"');
      expect(error.hint).toContain("--state-dir");
    }
    expect(events.filter((e) => !e.startsWith("check:"))).toEqual([]);
    expect(isProcessAlive(pid)).toBe(true);
    expect(await readFile(join(stateDir, "state.json"), "utf8")).toBe(before);
  });

  it("a read-only check that refuses a new lab leaves no state dir (nor the parents it made)", async () => {
    const provider = fakeProvider({ events, readOnlyCheck: { failing: true } });
    const error = await labUp({ provider, spec, stateDir, gate: autoYesGate() }).catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "check-ready" });
    expect(await exists(join(root, "labs"))).toBe(false);
    expect(await readdir(root)).toEqual([]);
  });
});

describe("--replace and honest hints", () => {
  it("--replace STEP undoes and re-applies a step whose check says done", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const pid = (await new LabStateStore(stateDir).load())!.resources.find((r) => r.kind === "process")!.id;
    events.length = 0;
    const lines: string[] = [];
    const result = await labUp({
      provider,
      spec,
      stateDir,
      gate: autoYesGate(),
      replace: "start-server",
      log: (l) => lines.push(l),
    });
    expect(events.filter((e) => !e.startsWith("check:"))).toEqual([
      "undo:start-server",
      "apply:start-server",
    ]);
    expect(result.steps.map((s) => s.outcome)).toEqual([
      "already-done",
      "already-done",
      "replaced",
      "already-done",
    ]);
    const after = (await new LabStateStore(stateDir).load())!;
    const newPid = after.resources.find((r) => r.kind === "process")!.id;
    expect(newPid).not.toBe(pid);
    expect(isProcessAlive(Number(pid))).toBe(false);
    expect(after.steps["start-server"]!.status).toBe("done");
    const shown = lines.join("\n");
    expect(shown).toContain("step 3/4: replace start-server");
    expect(shown).toContain("$ kill -TERM <pid>");
  });

  it("--replace of an unknown step, or of one outside --step/--from, is refused before anything runs", async () => {
    const provider = fakeProvider({ events });
    await expect(
      labUp({ provider, spec, stateDir, gate: autoYesGate(), replace: "nope" }),
    ).rejects.toMatchObject({
      code: "UNKNOWN_STEP",
      exitCode: 2,
    });
    await expect(
      labUp({ provider, spec, stateDir, gate: autoYesGate(), replace: "make-dir", from: "start-server" }),
    ).rejects.toMatchObject({ code: "STEP_SELECTION", exitCode: 2 });
    expect(events).toEqual([]);
    expect(await exists(stateDir)).toBe(false);
  });

  it("a built step whose verify keeps failing does not promise that a rerun helps: it names --replace", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const broken = fakeProvider({ events, brokenVerify: new Set(["write-marker"]) });
    const error = await labUp({ provider: broken, spec, stateDir, gate: autoYesGate() }).catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "write-marker" });
    expect(error.hint).not.toContain("it resumes at this step");
    expect(error.hint).toContain("`labgate lab up --replace write-marker`");
  });

  it("a failing read-only check says a rerun repeats it and points at rebuilding what it checks", async () => {
    const flag = { failing: false };
    const provider = fakeProvider({ events, readOnlyCheck: flag });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    flag.failing = true;
    const error = await labUp({ provider, spec, stateDir, gate: autoYesGate() }).catch((e) => e);
    expect(error.hint).toContain("repeats the same check");
    expect(error.hint).not.toContain("it resumes at this step");
  });
});

describe("steps declare what they need", () => {
  it("skipping a step warns at the gate and after, naming the later steps that need it", async () => {
    const provider = fakeProvider({ events });
    const lines: string[] = [];
    const gate = scriptedGate(["skip", "yes", "no"]);
    await labUp({ provider, spec, stateDir, gate, log: (l) => lines.push(l) }).catch(() => {});
    const shown = lines.join("\n");
    expect(shown).toContain("needed by: write-config, start-server, write-marker");
    expect(shown).toContain("Warning: write-config, start-server, write-marker need it");
    expect(shown).toContain("warning: needs make-dir, which you skipped in this run");
  });

  it("--from after steps that are not done warns at the gate which need is missing", async () => {
    const provider = fakeProvider({ events });
    const lines: string[] = [];
    await labUp({
      provider,
      spec,
      stateDir,
      gate: scriptedGate(["no"]),
      from: "start-server",
      log: (l) => lines.push(l),
    }).catch(() => {});
    const shown = lines.join("\n");
    expect(shown).toContain("warning: needs make-dir, which is not done (never run)");
    expect(shown).toContain("`labgate lab up --step make-dir`");
  });
});

describe("lab down undoes only what ran", () => {
  it("steps that never ran are not gated nor reported undone; read-only checks are not gated; undo gates show the calls", async () => {
    const provider = fakeProvider({ events, readOnlyCheck: { failing: false } });
    // Built up to start-server; write-marker declined (never ran).
    await labUp({ provider, spec, stateDir, gate: scriptedGate(["yes", "yes", "yes", "yes", "no"]) }).catch(
      () => {},
    );
    events.length = 0;
    const lines: string[] = [];
    const gate = scriptedGate(["yes", "yes", "yes"]);
    const result = await labDown({ provider, spec, stateDir, gate, log: (l) => lines.push(l) });
    expect(gate.asked).toEqual(["undo:start-server", "undo:write-config", "undo:make-dir"]);
    expect(result.steps.map((s) => [s.id, s.outcome])).toEqual([
      ["write-marker", "nothing-to-undo"],
      ["start-server", "undone"],
      ["write-config", "undone"],
      ["make-dir", "undone"],
      ["check-ready", "nothing-to-undo"],
    ]);
    expect(events).not.toContain("undo:write-marker");
    expect(events).not.toContain("check:write-marker");
    const shown = lines.join("\n");
    expect(shown).toContain("write-marker: nothing to undo (it never ran here)");
    expect(shown).toContain("undo commands:\n     $ kill -TERM <pid>\n     $ rm -f <state>/work/port");
    expect(shown).not.toContain("undo check-ready");
    expect(result.stateRemoved).toBe(true);
  });
});

describe("status is a check", () => {
  it("healthy only when every step is done and every resource healthy; a dead process makes it unhealthy", async () => {
    const provider = fakeProvider({ events });
    expect((await labStatus({ provider, spec, stateDir })).healthy).toBe(false);
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const good = await labStatus({ provider, spec, stateDir });
    expect(good.healthy).toBe(true);
    const pid = Number(good.resources.find((r) => r.kind === "process")!.id);
    process.kill(pid, "SIGKILL");
    await expect.poll(() => isProcessAlive(pid)).toBe(false);
    const bad = await labStatus({ provider, spec, stateDir });
    expect(bad.healthy).toBe(false);
    expect(bad.resources.find((r) => r.kind === "process")).toMatchObject({ health: "unhealthy" });
    expect(bad.steps.find((s) => s.id === "start-server")!.live).toMatchObject({ done: false });
  });

  it("a resource the provider does not probe takes its verdict from its step's live check", async () => {
    const provider = { ...fakeProvider({ events }), status: async () => [] };
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const file = (s: Awaited<ReturnType<typeof labStatus>>) => s.resources.find((r) => r.kind === "file");
    expect(file(await labStatus({ provider, spec, stateDir }))).toMatchObject({
      health: "healthy",
      detail: expect.stringContaining("step write-config finds it in place"),
    });
    await writeFile(join(stateDir, "work", "config.json"), "{}");
    const drifted = await labStatus({ provider, spec, stateDir });
    expect(file(drifted)).toMatchObject({ health: "unhealthy", detail: expect.stringContaining("drifted") });
    expect(drifted.healthy).toBe(false);
  });

  it("probes run at once: a check that never answers costs one deadline and is reported, not awaited", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    let started = 0;
    const hanging = {
      ...provider,
      plan: (s: typeof spec) =>
        planSteps(provider, s).map((step) => ({
          ...step,
          actions: {
            ...step.actions,
            check: () => {
              started++;
              return new Promise<never>(() => {});
            },
          },
        })),
    };
    const signal = AbortSignal.timeout(200);
    const status = await labStatus({ provider: hanging, spec, stateDir, signal });
    // Every check was started before any finished: they run in parallel.
    expect(started).toBe(4);
    expect(status.healthy).toBe(false);
    for (const s of status.steps)
      expect(s.live).toMatchObject({ error: expect.stringContaining("no answer") });
  });
});
