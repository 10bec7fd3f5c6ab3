import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import { autoYesGate } from "./gate.js";
import { describeStep } from "./legacy-step.js";
import { labUp } from "./run-lab.js";
import type { CheckResult, LabProvider, Step } from "./step.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-legacy-step-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes a marker file; check reads what is there and hands it to apply as facts. */
function markerStep(seen: { checks: number; facts: unknown[] }): Step<{ before: string }> {
  const path = (dir: string) => join(dir, "marker");
  return {
    id: "write-marker",
    title: "Write the marker",
    why: "The test needs it.",
    commands: ["echo v2 > <state>/marker"],
    commandsFor: (known) => [`echo v2 > ${known.length ? "known" : "<state>"}/marker`],
    async check(ctx): Promise<CheckResult<{ before: string }>> {
      seen.checks++;
      const before = await access(path(ctx.stateDir)).then(
        () => "present",
        () => "absent",
      );
      return { done: false, detail: `marker ${before}`, facts: { before } };
    },
    async apply(ctx, found) {
      seen.facts.push(found?.facts);
      await writeFile(path(ctx.stateDir), "v2\n");
    },
    async verify(ctx) {
      await access(path(ctx.stateDir));
    },
    async undo() {},
  };
}

describe("providers' Steps on runPlan", () => {
  it("lab up hands what check found (its facts) to apply, checking once", async () => {
    const seen = { checks: 0, facts: [] as unknown[] };
    const provider: LabProvider = { name: "facts", plan: () => [markerStep(seen)] };
    const stateDir = join(root, "lab");
    const result = await labUp({ provider, spec: defaultLabSpec(), stateDir, gate: autoYesGate() });
    expect(result.steps.map((s) => s.outcome)).toEqual(["applied"]);
    expect(seen).toEqual({ checks: 1, facts: [{ before: "absent" }] });
  });

  it("describeStep: commands become calls (recorded values filled in)", () => {
    const step = markerStep({ checks: 0, facts: [] });
    expect(describeStep(step).calls).toEqual([{ display: "echo v2 > <state>/marker" }]);
    expect(describeStep(step, [{ kind: "file", id: "x", stepId: "s" }]).calls[0]?.display).toBe(
      "echo v2 > known/marker",
    );
  });
});
