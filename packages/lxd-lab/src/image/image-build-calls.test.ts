import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { autoYesGate } from "../engine/gate.js";
import { runPlan } from "../engine/run-plan.js";
import { CACHE_FILES, type ImageBuildOptions, imageBuildOptions } from "./image-build-options.js";
import { imageBuildSteps } from "./image-build-steps.js";
import { readCachedImage, splitImageFingerprint } from "./image-cache.js";
import { type CommandCall, type ImageContext, imageContext } from "./image-context.js";
import { imageProgressStore, PROGRESS_FILE } from "./image-progress-store.js";
import { type RunImageBuildOptions, runImageBuild } from "./run-image-build.js";
import { callRecorder, type MadeCall } from "./test-support/call-recorder.js";

/**
 * What `labgate image build` runs is what its plan shows: every command and call a step makes goes
 * through its context and is recorded here, then compared with the step's description — the same
 * objects, in the same order. tar, gzip, id and sh run for real; debootstrap is the one stand-in
 * (it would download from a Debian mirror, which tests must not reach): it leaves what debootstrap
 * leaves that the later steps touch.
 */
const MIRROR = "http://deb.debian.org/debian";

type Made = MadeCall;

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "labgate-img-calls-"));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

/** What debootstrap --variant=minbase leaves that customize and pack touch. */
async function standInDebootstrap(call: CommandCall, o: ImageBuildOptions, withRoot = true) {
  const rootfs = call.args.at(-2) ?? "";
  expect(rootfs).toBe(join(o.buildDir, "rootfs"));
  if (!withRoot) return { exitCode: 0, output: "" };
  for (const d of ["etc/systemd/system", "sbin", "var/cache/apt/archives", "var/lib/apt/lists/partial"])
    await mkdir(join(rootfs, d), { recursive: true });
  await writeFile(join(rootfs, "var/cache/apt/archives/python3_3.11_amd64.deb"), "deb");
  await writeFile(join(rootfs, "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_Release"), "x");
  await writeFile(join(rootfs, "etc/os-release"), "ID=debian\nVERSION_CODENAME=bookworm\n");
  return { exitCode: 0, output: "I: Base system installed successfully." };
}

function recorder(o: ImageBuildOptions, made: Made[], debootstrapMakesRoot = () => true) {
  const base = imageContext(
    o,
    () => {
      throw new Error("--no-import: no step may talk to LXD");
    },
    () => {},
    new AbortController().signal,
  );
  return callRecorder(base, made, (call) =>
    call.file === "debootstrap" ? standInDebootstrap(call, o, debootstrapMakesRoot()) : base.exec(call),
  );
}

/** A build of `steps` on `ctx` that answers every gate with yes. */
const build = (ctx: ImageContext, steps: RunImageBuildOptions["steps"], more: { dryRun?: boolean } = {}) =>
  runImageBuild({ ctx, steps, gate: autoYesGate(), ...more });

/** The step records in the cache entry's progress file. */
async function progressOf(o: ImageBuildOptions): Promise<Record<string, { status: string }>> {
  const file = JSON.parse(await readFile(join(o.entryDir, PROGRESS_FILE), "utf8")) as {
    steps: Record<string, { status: string }>;
  };
  return file.steps;
}

describe("image build: the calls made are the calls planned", () => {
  it("each step runs exactly its description's calls (same objects, same order); a cached re-run makes none", async () => {
    const o = imageBuildOptions({ cacheDir, noImport: true }, MIRROR);
    const plan = imageBuildSteps(o);
    const made: Made[] = [];
    const { ctx, attributed } = recorder(o, made);
    const result = await build(ctx, plan.map(attributed));

    expect(result.steps.map((s) => [s.id, s.outcome])).toEqual([
      ["check-tools", "already-done"],
      ["debootstrap", "applied"],
      ["customize", "applied"],
      ["pack", "applied"],
    ]);
    for (const step of plan) {
      const d = step.description;
      const mine = made.filter((m) => m.step === d.id);
      // No call outside the description, in any phase.
      for (const m of mine) expect(d.calls, `${d.id} made "${m.call.display}"`).toContain(m.call);
      // What the result (and --json) shows is the description.
      expect(result.steps.find((s) => s.id === d.id)?.commands).toEqual(d.calls.map((c) => c.display));
    }
    const callsOf = (id: string, phase: Made["phase"]) =>
      made.filter((m) => m.step === id && m.phase === phase).map((m) => m.call);
    const described = (id: string) => plan.find((s) => s.description.id === id)?.description.calls;
    // check-tools probes in its check (root, then each tool); the build steps make all their calls in apply.
    expect(callsOf("check-tools", "check")).toEqual(described("check-tools"));
    for (const id of ["debootstrap", "customize", "pack"]) {
      expect(callsOf(id, "apply")).toEqual(described(id));
      expect(callsOf(id, "apply").every((c, i) => c === described(id)?.[i])).toBe(true);
    }
    expect(made.map((m) => m.call.kind).filter((k) => k === "command" || k === "probe")).toEqual([
      "probe",
      "probe",
      "probe",
      "probe",
      "command",
      "command",
      "command",
    ]);

    // The real tarballs: the init is in the root, the fingerprint is LXD's, the build dir is gone.
    const info = await readCachedImage(o);
    expect(info?.fingerprint).toBe(
      await splitImageFingerprint(
        join(o.entryDir, CACHE_FILES.metadata),
        join(o.entryDir, CACHE_FILES.rootfs),
      ),
    );
    const listing = execFileSync("tar", ["-tzf", join(o.entryDir, CACHE_FILES.rootfs)], { encoding: "utf8" });
    expect(listing).toContain("./sbin/init");
    expect(listing).not.toContain("python3_3.11_amd64.deb");
    expect(await readdir(cacheDir)).toEqual([`debian-bookworm-amd64-${o.key}`]);
    const progress = await progressOf(o);
    expect(Object.entries(progress).map(([id, r]) => [id, r.status])).toEqual([
      ["check-tools", "done"],
      ["debootstrap", "done"],
      ["customize", "done"],
      ["pack", "done"],
    ]);

    made.length = 0;
    const again = await build(ctx, plan.map(attributed));
    expect(again.changed).toBe(false);
    expect(again.steps.every((s) => s.outcome === "already-done")).toBe(true);
    expect(made).toEqual([]);
  });

  it("undo makes exactly the undo calls each step shows, removes the cache entry's files and the progress", async () => {
    const o = imageBuildOptions({ cacheDir, noImport: true }, MIRROR);
    const plan = imageBuildSteps(o);
    const made: Made[] = [];
    const { ctx, attributed } = recorder(o, made);
    await build(ctx, plan.map(attributed));
    made.length = 0;
    const undone = await runPlan(plan.map(attributed), {
      ctx,
      store: await imageProgressStore(o),
      gate: autoYesGate(),
      mode: "undo",
      resume: "labgate image build",
    });
    expect(undone.steps.map((s) => [s.id, s.outcome])).toEqual([
      ["pack", "undone"],
      ["customize", "undone"],
      ["debootstrap", "undone"],
      ["check-tools", "nothing-to-undo"],
    ]);
    expect(made.map((m) => m.call)).toEqual(
      ["pack", "customize", "debootstrap"].flatMap(
        (id) => plan.find((s) => s.description.id === id)?.description.undoCalls ?? [],
      ),
    );
    expect(await readCachedImage(o)).toBeUndefined();
    expect(await readdir(o.entryDir)).toEqual([]);
  });

  it("Ctrl-C during debootstrap: its half-written root is removed, the step is recorded as interrupted (exit 130)", async () => {
    const o = imageBuildOptions({ cacheDir, noImport: true }, MIRROR);
    const controller = new AbortController();
    const { ctx, attributed } = recorder(o, []);
    const interrupted: ImageContext = {
      ...ctx,
      signal: controller.signal,
      async exec(call) {
        if (call.file !== "debootstrap") return ctx.exec(call);
        await standInDebootstrap(call, o);
        controller.abort();
        return { exitCode: 143, output: "" };
      },
    };
    const error = await build(interrupted, imageBuildSteps(o).map(attributed)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INTERRUPTED", exitCode: ExitCode.INTERRUPTED });
    expect((error as { hint?: string }).hint).toContain("labgate image build");
    const progress = await progressOf(o);
    expect(progress.debootstrap?.status).toBe("interrupted");
    expect(await readdir(cacheDir)).not.toContain(`debian-bookworm-amd64-${o.key}.build`);
  });

  it("a failed step is recorded in the cache entry and the next run resumes at it", async () => {
    const o = imageBuildOptions({ cacheDir, noImport: true }, MIRROR);
    const made: Made[] = [];
    let makeRoot = false;
    const { ctx, attributed } = recorder(o, made, () => makeRoot);
    // debootstrap "succeeds" but leaves no root: customize cannot write /sbin/init.
    const failed = await build(ctx, imageBuildSteps(o).map(attributed)).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: "STEP_FAILED" });
    const progress = await progressOf(o);
    expect(progress.debootstrap?.status).toBe("done");
    expect(progress.customize?.status).toBe("failed");

    // The root appears (as if fixed by hand); debootstrap's marker says it is done, so it is not run again.
    makeRoot = true;
    await standInDebootstrap(
      { kind: "command", file: "debootstrap", args: ["", join(o.buildDir, "rootfs"), ""], display: "" },
      o,
    );
    made.length = 0;
    const resumed = await build(ctx, imageBuildSteps(o).map(attributed));
    expect(resumed.steps.map((s) => [s.id, s.outcome])).toEqual([
      ["check-tools", "already-done"],
      ["debootstrap", "already-done"],
      ["customize", "applied"],
      ["pack", "applied"],
    ]);
    expect(made.some((m) => m.step === "debootstrap")).toBe(false);
  });

  it("a dry run shows the same calls and writes nothing", async () => {
    const o = imageBuildOptions({ cacheDir, noImport: true, cloudInit: true }, MIRROR);
    const plan = imageBuildSteps(o);
    const made: Made[] = [];
    const { ctx, attributed } = recorder(o, made);
    const result = await build(ctx, plan.map(attributed), { dryRun: true });
    expect(result.steps.map((s) => s.commands)).toEqual(
      plan.map((s) => s.description.calls.map((c) => c.display)),
    );
    expect(made.every((m) => m.phase === "check" && m.call.kind === "probe")).toBe(true);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("a tool that fails stops the build with its output and leaves no cache entry or staging dir", async () => {
    const o = imageBuildOptions({ cacheDir, noImport: true }, MIRROR);
    const { ctx, attributed } = recorder(o, []);
    // The root vanishes before it is packed: the real tar fails on `-C <missing dir>`.
    const failingTar: ImageContext = {
      ...ctx,
      async exec(call) {
        if (call.file === "tar" && call.args.includes(join(o.buildDir, "rootfs")))
          await rm(join(o.buildDir, "rootfs"), { recursive: true, force: true });
        return ctx.exec(call);
      },
    };
    const error = await build(failingTar, imageBuildSteps(o).map(attributed)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", exitCode: ExitCode.EXTERNAL });
    expect(String((error as Error).message)).toContain("tar failed (exit 2)");
    expect(await readCachedImage(o)).toBeUndefined();
    expect(await readdir(o.entryDir)).toEqual([PROGRESS_FILE]);
    expect(await readdir(cacheDir)).not.toContain(`debian-bookworm-amd64-${o.key}.tmp`);
  });
});
