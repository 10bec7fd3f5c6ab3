import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import { autoYesGate } from "./gate.js";
import { labDryRun } from "./lab-dry-run.js";
import { describePlan } from "./plan-view.js";
import { labUp } from "./run-lab.js";
import type { LabProvider, LabStep } from "./step.js";
import { killRecordedProcesses } from "./test-support/engine-test-kit.js";
import { fakeProvider } from "./test-support/fake-provider.js";

let root: string;
let stateDir: string;
let events: string[];
const spec = defaultLabSpec();

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-dry-run-"));
  stateDir = join(root, "labs", "demo");
  events = [];
});

afterEach(async () => {
  await killRecordedProcesses(stateDir);
  await rm(root, { recursive: true, force: true });
});

/** A step whose check writes to the lab state: a bug a dry run must refuse, not carry out. */
const recordingCheck: LabStep = {
  description: { id: "sneaky", title: "Record while checking", why: "A buggy check.", calls: [] },
  actions: {
    async check(ctx) {
      await ctx.record({ kind: "file", id: "/tmp/x", stepId: "sneaky" });
      return { done: false };
    },
    apply: async () => {},
    verify: async () => {},
    undo: async () => {},
  },
};

describe("labDryRun", () => {
  it("up: the plan's descriptions with what each check finds; a check that writes is refused as unknown", async () => {
    const fake = fakeProvider({ events });
    const provider: LabProvider = { ...fake, plan: (s) => [...fake.plan(s), recordingCheck] };
    const result = await labDryRun({ provider, spec, stateDir }, "up");
    expect(result.steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "make-dir:would-run",
      "write-config:would-run",
      "start-server:would-run",
      "write-marker:would-run",
      "sneaky:unknown",
    ]);
    expect(result.steps.at(-1)?.detail).toMatch(
      /^check failed: A step's check tried to record file \/tmp\/x/,
    );
    // Each step is the one `lab plan` shows, plus what the runner found.
    const plan = describePlan(provider, spec);
    expect(result.steps.map(({ outcome: _o, detail: _d, ...s }) => s)).toEqual(plan.steps);
    expect(events.filter((e) => !e.startsWith("check:"))).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it("down: only what ran, in reverse, with its undo calls and what it owns; the state is left as it was", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate(), step: "make-dir" });
    await labUp({ provider, spec, stateDir, gate: autoYesGate(), step: "start-server" });
    const before = await readFile(join(stateDir, "state.json"), "utf8");
    events.length = 0;
    const result = await labDryRun({ provider, spec, stateDir }, "down");
    expect(result.steps.map((s) => `${s.index}.${s.id}:${s.outcome}`)).toEqual([
      "4.write-marker:nothing-to-undo",
      "3.start-server:would-undo",
      "2.write-config:nothing-to-undo",
      "1.make-dir:would-undo",
    ]);
    expect(result.steps[1]?.undoCommands).toEqual(["kill -TERM <pid>", "rm -f <state>/work/port"]);
    expect(result.steps[1]?.detail).toMatch(/^removes process \d+$/);
    expect(events).toEqual([]);
    expect(await readFile(join(stateDir, "state.json"), "utf8")).toBe(before);
    // Without state nothing ran: nothing to preview, whatever --step names.
    const none = await labDryRun({ provider, spec, stateDir: join(root, "none"), step: "nope" }, "down");
    expect(none.steps).toEqual([]);
    // --step picks one step to preview.
    const one = await labDryRun({ provider, spec, stateDir, step: "make-dir" }, "down");
    expect(one.steps.map((s) => s.id)).toEqual(["make-dir"]);
  });

  it("up --replace: the replaced step would run whatever its check says; a step outside the run is refused", async () => {
    const provider = fakeProvider({ events });
    await labUp({ provider, spec, stateDir, gate: autoYesGate() });
    const result = await labDryRun({ provider, spec, stateDir, replace: "write-config" }, "up");
    expect(result.steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "make-dir:already-done",
      "write-config:would-run",
      "start-server:already-done",
      "write-marker:already-done",
    ]);
    expect(result.steps[1]?.detail).toBe(
      "replaced: undone, then applied again (now: config.json is current)",
    );
    await expect(
      labDryRun({ provider, spec, stateDir, step: "make-dir", replace: "write-config" }, "up"),
    ).rejects.toMatchObject({ code: "STEP_SELECTION", exitCode: 2 });
    await expect(labDryRun({ provider, spec, stateDir, replace: "nope" }, "up")).rejects.toMatchObject({
      code: "UNKNOWN_STEP",
    });
  });
});
