import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { autoYesGate, type Gate, refusingGate } from "../engine/gate.js";
import { imageBuildOptions } from "./image-build-options.js";
import type { ImageStep } from "./image-build-steps.js";
import { imageContext, otherCall } from "./image-context.js";
import { runImageBuild } from "./run-image-build.js";

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "labgate-img-run-"));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

function steps(applied: string[]): ImageStep[] {
  return ["first", "second"].map((id) => {
    const call = otherCall("file", `echo ${id}`);
    return {
      description: { id, title: `the ${id} step`, why: "test step", calls: [call] },
      actions: {
        check: async () => ({ done: id === "first" || applied.includes(id), facts: undefined }),
        apply: async (ctx) => ctx.perform(call, async () => void applied.push(id)),
        verify: async () => {},
        undo: async () => {},
      },
    };
  });
}

async function build(gate: Gate, applied: string[], dryRun = false) {
  const log: string[] = [];
  const options = imageBuildOptions({ cacheDir }, "http://deb.debian.org/debian", "x64");
  const run = runImageBuild({
    ctx: imageContext(
      options,
      () => {
        throw new Error("these steps do not talk to LXD");
      },
      (m) => log.push(m),
      new AbortController().signal,
    ),
    steps: steps(applied),
    gate,
    dryRun,
  });
  return { run, log, options };
}

describe("runImageBuild", () => {
  it("skips what is done, applies the rest and says it was confirmed by --yes only under --yes", async () => {
    const applied: string[] = [];
    const { run, log, options } = await build(autoYesGate(), applied);
    const result = await run;
    expect(result.steps.map((s) => s.outcome)).toEqual(["already-done", "applied"]);
    expect(result.steps[1]?.commands).toEqual(["echo second"]);
    expect(result.steps[1]?.seconds).toBeGreaterThanOrEqual(0);
    expect(result.changed).toBe(true);
    expect(applied).toEqual(["second"]);
    expect(log.join("\n")).toContain("(confirmed by --yes)");
    // The progress lives in the cache entry once something changed.
    expect(await readdir(options.entryDir)).toContain("progress.json");
  });

  it("without a terminal and without --yes it refuses, runs nothing, writes nothing and never claims --yes", async () => {
    const applied: string[] = [];
    const { run, log } = await build(refusingGate(), applied);
    await expect(run).rejects.toMatchObject({ exitCode: 7 });
    expect(applied).toEqual([]);
    expect(log.join("\n")).not.toContain("--yes)");
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("a dry run only checks: what would run, nothing applied, nothing written", async () => {
    const applied: string[] = [];
    const { run } = await build(refusingGate(), applied, true);
    const result = await run;
    expect(result.steps.map((s) => s.outcome)).toEqual(["already-done", "would-run"]);
    expect(result.message).toBe("dry run: 1 step(s) would run, nothing changed");
    expect(result.changed).toBe(false);
    expect(applied).toEqual([]);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("a second run finds everything done and writes nothing", async () => {
    const applied: string[] = ["second"];
    const { run } = await build(refusingGate(), applied);
    const result = await run;
    expect(result.steps.map((s) => s.outcome)).toEqual(["already-done", "already-done"]);
    expect(result.changed).toBe(false);
    expect(result.message).toMatch(/^nothing to do: image labgate\/debian-bookworm is built/);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("a step that makes a call its description does not show is stopped before the call is made", async () => {
    const options = imageBuildOptions({ cacheDir }, "http://deb.debian.org/debian", "x64");
    const ran: string[] = [];
    const unplanned = otherCall("file", "rm -rf /somewhere-not-shown");
    const sneaky: ImageStep = {
      description: {
        id: "sneaky",
        title: "shows one call",
        why: "test",
        calls: [otherCall("file", "echo shown")],
      },
      actions: {
        check: async () => ({ done: false, facts: undefined }),
        apply: (ctx) => ctx.perform(unplanned, async () => void ran.push("unplanned")),
        verify: async () => {},
        undo: async () => {},
      },
    };
    const error = await runImageBuild({
      ctx: imageContext(
        options,
        () => {
          throw new Error("no LXD here");
        },
        () => {},
        new AbortController().signal,
      ),
      steps: [sneaky],
      gate: autoYesGate(),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED" });
    expect(String((error as Error).message)).toContain(
      "tried a call its plan does not show: rm -rf /somewhere-not-shown",
    );
    expect(ran).toEqual([]);
  });
});
