import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import { autoYesGate } from "./gate.js";
import type { Found } from "./plan-step.js";
import { describePlan } from "./plan-view.js";
import { labUp } from "./run-lab.js";
import type { LabProvider, LabStep } from "./step.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-lab-step-facts-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes a marker file; check reads what is there and hands it to apply as facts. */
function markerStep(seen: { checks: number; facts: unknown[] }): LabStep<{ before: string }> {
  const path = (dir: string) => join(dir, "marker");
  const description = {
    id: "write-marker",
    title: "Write the marker",
    why: "The test needs it.",
    calls: [{ display: "echo v2 > <state>/marker" }],
  };
  return {
    description,
    current: (ctx) => ({
      ...description,
      calls: [{ display: `echo v2 > ${ctx.resources().length ? "known" : "<state>"}/marker` }],
    }),
    actions: {
      async check(ctx): Promise<Found<{ before: string }>> {
        seen.checks++;
        const before = await access(path(ctx.stateDir)).then(
          () => "present",
          () => "absent",
        );
        return { done: false, detail: `marker ${before}`, facts: { before } };
      },
      async apply(ctx, found) {
        seen.facts.push(found.facts);
        await writeFile(path(ctx.stateDir), "v2\n");
      },
      async verify(ctx) {
        await access(path(ctx.stateDir));
      },
      async undo() {},
    },
  };
}

describe("a lab step on runPlan", () => {
  it("lab up hands what check found (its facts) to apply, checking once", async () => {
    const seen = { checks: 0, facts: [] as unknown[] };
    const provider: LabProvider = { name: "facts", plan: () => [markerStep(seen)] };
    const stateDir = join(root, "lab");
    const result = await labUp({ provider, spec: defaultLabSpec(), stateDir, gate: autoYesGate() });
    expect(result.steps.map((s) => s.outcome)).toEqual(["applied"]);
    expect(seen).toEqual({ checks: 1, facts: [{ before: "absent" }] });
  });

  it("a plan shows each step's current description against the recorded resources only", () => {
    const provider: LabProvider = { name: "facts", plan: () => [markerStep({ checks: 0, facts: [] })] };
    const spec = defaultLabSpec();
    expect(describePlan(provider, spec).steps[0]?.commands).toEqual(["echo v2 > <state>/marker"]);
    expect(describePlan(provider, spec, [{ kind: "file", id: "x", stepId: "s" }]).steps[0]?.commands).toEqual(
      ["echo v2 > known/marker"],
    );
  });
});
