import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StepFailedError } from "../errors.js";
import { virtualBoxCommands, virtualBoxNatStep } from "../providers/opennebula/virtualbox-step.js";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import { autoYesGate, explainStep, promptGate } from "./gate.js";
import { LabStateStore } from "./lab-state.js";
import { isManualStep, manualStep } from "./manual-step.js";
import { labDown, labUp } from "./run-lab.js";
import type { LabProvider, LabStep } from "./step.js";
import { createStepContext } from "./step-context.js";

let root: string;
let stateDir: string;
const spec = defaultLabSpec();

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-manual-"));
  stateDir = join(root, "labs", "demo");
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const forward = { vm: "one frontend", hostPort: 18080 };
const ADD = 'VBoxManage controlvm "one frontend" natpf1 "labgate-lb,tcp,,18080,,8080"';
const REMOVE = 'VBoxManage controlvm "one frontend" natpf1 delete labgate-lb';

/** One automatic step before the manual one, so a refusal is seen to keep what was done before it. */
function provider(events: string[]): LabProvider {
  const auto: LabStep<undefined> = {
    description: {
      id: "expose",
      title: "expose",
      why: "w",
      calls: [{ display: "lxc config device add ..." }],
    },
    actions: {
      async check(ctx) {
        return { done: ctx.resources("thing").length > 0, facts: undefined };
      },
      async apply(ctx) {
        events.push("apply:expose");
        await ctx.record({ kind: "thing", id: "t", stepId: "expose" });
      },
      async verify() {},
      async undo(ctx) {
        events.push("undo:expose");
        await ctx.forget("thing", "t");
      },
    },
  };
  return { name: "fake", plan: () => [auto, virtualBoxNatStep(forward, 8080)] };
}

function terminal(lines: string[]) {
  const input = new PassThrough();
  const output = new PassThrough();
  let said = "";
  output.on("data", (d) => {
    said += String(d);
  });
  for (const l of lines) input.write(`${l}\n`);
  return { gate: promptGate({ input, output }), said: () => said };
}

describe("manual steps", () => {
  it("the VirtualBox step shows the exact natpf1 command and its reverse", () => {
    expect(virtualBoxCommands(forward, 8080)).toEqual({ add: ADD, remove: REMOVE });
    expect(virtualBoxCommands({ vm: "onevm", hostPort: 80 }, 18280).add).toBe(
      'VBoxManage controlvm onevm natpf1 "labgate-lb,tcp,,80,,18280"',
    );
    const step = virtualBoxNatStep(forward, 8080);
    expect(isManualStep(step)).toBe(true);
    expect(step.description.calls[0]?.display).toContain(ADD);
    expect(explainStep({ step: step.description, action: "undo", index: 1, total: 1 })).toContain(REMOVE);
  });

  it("the description carries the person's commands as manual calls, the instructions, and no function", () => {
    const step = manualStep({
      id: "nat",
      title: "Forward the port",
      why: "Only you can reach that host.",
      manual: { where: "on the host", commands: ["add rule"], undoCommands: ["remove rule"] },
    });
    const d = step.description;
    expect(isManualStep(step)).toBe(true);
    expect(d.manual.commands).toEqual(["add rule"]);
    expect(d.calls).toEqual([{ display: "add rule  # by you, on the host", kind: "manual" }]);
    expect(d.undoCalls?.[0]?.display).toBe("remove rule  # by you, on the host");
    expect(Object.values(d).some((v) => typeof v === "function")).toBe(false);
    const automatic: LabStep<undefined> = { description: { ...d, manual: undefined }, actions: step.actions };
    expect(isManualStep(automatic)).toBe(false);
  });

  it("--yes refuses a manual step (nobody confirmed it ran) and keeps the steps done before it", async () => {
    const events: string[] = [];
    const error = await labUp({ provider: provider(events), spec, stateDir, gate: autoYesGate() }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "NOT_CONFIRMED", exitCode: ExitCode.NOT_CONFIRMED });
    expect((error as Error).message).toContain(ADD);
    expect((error as Error).message).toContain("--yes cannot confirm");
    expect(events).toEqual(["apply:expose"]);
    const state = await new LabStateStore(stateDir).load();
    expect(state?.steps.expose?.status).toBe("done");
    expect(state?.steps["one-virtualbox-nat"]).toBeUndefined();
  });

  it("in a terminal: shows the command, asks whether it was run, records the answer; the next up asks nothing", async () => {
    const events: string[] = [];
    const t = terminal(["y", "y"]);
    const lines: string[] = [];
    const up = await labUp({
      provider: provider(events),
      spec,
      stateDir,
      gate: t.gate,
      log: (l) => lines.push(l),
    });
    expect(up.complete).toBe(true);
    expect(t.said()).toContain(`labgate cannot run this step: do it yourself on the VirtualBox host`);
    expect(t.said()).toContain(`$ ${ADD}`);
    expect(t.said()).toMatch(/Have you run it on the VirtualBox host .*\[y\]es, done/);
    const state = await new LabStateStore(stateDir).load();
    const record = state?.resources.find((r) => r.kind === "manual");
    expect(record?.data).toMatchObject({ commands: [ADD], undoCommands: [REMOVE], vm: "one frontend" });
    expect(typeof record?.data?.confirmedAt).toBe("string");

    // Resumed with --yes: the confirmed manual step is already done, so --yes has nothing to refuse.
    const again = await labUp({ provider: provider(events), spec, stateDir, gate: autoYesGate() });
    expect(again.steps.map((s) => s.outcome)).toEqual(["already-done", "already-done"]);
  });

  it("answering n stops there and records nothing for the manual step", async () => {
    const t = terminal(["y", "n"]);
    const error = await labUp({ provider: provider([]), spec, stateDir, gate: t.gate }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "DECLINED" });
    const state = await new LabStateStore(stateDir).load();
    expect(state?.resources.some((r) => r.kind === "manual")).toBe(false);
  });

  it("lab down shows the reverse command (natpf1 delete) and forgets the record, also under --yes", async () => {
    const events: string[] = [];
    await labUp({ provider: provider(events), spec, stateDir, gate: terminal(["y", "y"]).gate });
    const lines: string[] = [];
    const down = await labDown({
      provider: provider(events),
      spec,
      stateDir,
      gate: autoYesGate(),
      log: (l) => lines.push(l),
    });
    expect(down.complete).toBe(true);
    expect(lines.join("\n")).toContain(`$ ${REMOVE}`);
    expect(events).toContain("undo:expose");
  });
});

describe("a manual step's verify", () => {
  it("fails with STEP_FAILED naming the step and where to run it until someone confirmed it", async () => {
    const step = virtualBoxNatStep(forward, 8080);
    const store = new LabStateStore(stateDir);
    const ctx = createStepContext(store, spec, provider([]), () => {}, new AbortController().signal);
    const verify = step.actions.verify(ctx);
    await expect(verify).rejects.toBeInstanceOf(StepFailedError);
    await expect(verify).rejects.toMatchObject({
      code: "STEP_FAILED",
      stepId: step.description.id,
      exitCode: ExitCode.EXTERNAL,
      message: expect.stringContaining("no one has confirmed it ran"),
      hint: expect.stringContaining("labgate lab up"),
    });
    const found = await step.actions.check(ctx);
    expect(found).toMatchObject({ done: false, detail: "not confirmed yet" });
    await step.actions.apply(ctx, found);
    await expect(step.actions.verify(ctx)).resolves.toBeUndefined();
    expect((await step.actions.check(ctx)).detail).toMatch(/^confirmed by you at \d{4}-/);
  });
});
