import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { autoYesGate, type Gate, refusingGate } from "../engine/gate.js";
import { imageBuildOptions } from "./image-build-options.js";
import type { ImageStep } from "./image-build-steps.js";
import { runImageBuild } from "./run-image-build.js";

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "labgate-img-run-"));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

function steps(applied: string[]): ImageStep[] {
  return ["first", "second"].map((id) => ({
    id,
    title: `the ${id} step`,
    why: "test step",
    commands: [`echo ${id}`],
    check: async () => ({ done: id === "first" }),
    apply: async () => {
      applied.push(id);
    },
  }));
}

async function build(gate: Gate, applied: string[]) {
  const log: string[] = [];
  const run = runImageBuild({
    options: imageBuildOptions({ cacheDir }, "http://deb.debian.org/debian", "x64"),
    steps: steps(applied),
    gate,
    log: (m) => log.push(m),
    signal: new AbortController().signal,
  });
  return { run, log };
}

describe("runImageBuild", () => {
  it("skips what is done, applies the rest and says it was confirmed by --yes only under --yes", async () => {
    const applied: string[] = [];
    const { run, log } = await build(autoYesGate(), applied);
    const result = await run;
    expect(result.steps.map((s) => s.outcome)).toEqual(["already-done", "applied"]);
    expect(applied).toEqual(["second"]);
    expect(log.join("\n")).toContain("(confirmed by --yes)");
  });

  it("without a terminal and without --yes it refuses, runs nothing and never claims --yes", async () => {
    const applied: string[] = [];
    const { run, log } = await build(refusingGate(), applied);
    await expect(run).rejects.toMatchObject({ exitCode: 7 });
    expect(applied).toEqual([]);
    expect(log.join("\n")).not.toContain("--yes)");
  });
});
