import { execFile } from "node:child_process";
import { access, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Gate, GateDecision, GateRequest } from "./gate.js";
import { autoYesGate } from "./gate.js";
import { createJsonPlanStore, type JsonPlanStore } from "./json-plan-store.js";
import type { PlanStep, RunMode, RunPlanOptions, StepCall } from "./plan-step.js";
import { runPlan } from "./run-plan.js";

const run = promisify(execFile);

/** What the test steps run on: every call goes through `exec`, which records it and runs it for real. */
interface Ctx {
  dir: string;
  made: string[];
  checks: string[];
  exec(argv: string[]): Promise<void>;
  /** Called inside apply, before its calls (lets a test fail, abort or look at the store then). */
  during?: (id: string) => Promise<void>;
}

function commandCall(argv: string[]): StepCall {
  return { display: argv.join(" "), kind: "command" };
}

/** Creates `<dir>/<name>`: planned calls and the calls apply makes come from the same `argvs`. */
function fileStep(
  id: string,
  name: string,
  extra: Partial<PlanStep<Ctx>["description"]> = {},
): PlanStep<Ctx, { missing: string }> {
  const argvs = (dir: string) => [
    ["mkdir", "-p", dir],
    ["touch", join(dir, name)],
  ];
  const path = (ctx: Ctx) => join(ctx.dir, name);
  return {
    description: {
      id,
      title: `Create ${name}`,
      why: `The test needs ${name}.`,
      calls: argvs("<dir>").map(commandCall),
      undoCalls: [commandCall(["rm", "-f", join("<dir>", name)])],
      ...extra,
    },
    current: (ctx) => ({
      id,
      title: `Create ${name}`,
      why: `The test needs ${name}.`,
      calls: argvs(ctx.dir).map(commandCall),
      undoCalls: [commandCall(["rm", "-f", path(ctx)])],
      ...extra,
    }),
    actions: {
      async check(ctx) {
        ctx.checks.push(id);
        const exists = await access(path(ctx)).then(
          () => true,
          () => false,
        );
        return {
          done: exists,
          detail: exists ? `${name} exists` : `${name} missing`,
          facts: { missing: path(ctx) },
        };
      },
      async apply(ctx, found) {
        await ctx.during?.(id);
        expect(found.facts.missing).toBe(path(ctx));
        for (const argv of argvs(ctx.dir)) await ctx.exec(argv);
      },
      async verify(ctx) {
        await access(path(ctx));
      },
      async undo(ctx) {
        await ctx.exec(["rm", "-f", path(ctx)]);
      },
    },
  };
}

/** A read-only check: the files exist. */
function checkStep(id: string, names: string[]): PlanStep<Ctx> {
  const all = async (ctx: Ctx) => {
    for (const n of names) await access(join(ctx.dir, n));
  };
  return {
    description: {
      id,
      title: "Check the files",
      why: "Proves the files are there.",
      calls: [],
      readOnly: true,
    },
    actions: {
      check: async () => ({ done: false, facts: undefined }),
      apply: async (ctx) => all(ctx),
      verify: async (ctx) => all(ctx),
      undo: async () => {},
    },
  };
}

function scripted(answers: GateDecision[]): Gate & { asked: GateRequest[] } {
  const asked: GateRequest[] = [];
  return {
    interactive: true,
    asked,
    async confirm(req) {
      asked.push(req);
      const next = answers.shift();
      if (!next) throw new Error(`unexpected question for ${req.step.id}`);
      return next;
    },
    close() {},
  };
}

const neverAsk: Gate = {
  interactive: false,
  async confirm(req) {
    throw new Error(`asked about ${req.step.id}`);
  },
  close() {},
};

let root: string;
let dir: string;
let progress: string;
let ctx: Ctx;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-run-plan-"));
  dir = join(root, "work");
  progress = join(root, "state", "progress.json");
  ctx = {
    dir,
    made: [],
    checks: [],
    async exec(argv) {
      this.made.push(argv.join(" "));
      await run(argv[0] as string, argv.slice(1));
    },
  };
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const plan = () => [fileStep("make-a", "a"), fileStep("make-b", "b"), checkStep("check-files", ["a", "b"])];
const store = () => createJsonPlanStore(progress, { removeWhenEmpty: true });
const RESUME = "labgate test apply";
/** runPlan on this test's ctx and a fresh store: answered yes, resumed by RESUME, unless `more` says otherwise. */
const runStore = async (steps: PlanStep<Ctx>[], mode: RunMode, more: Partial<RunPlanOptions<Ctx>> = {}) =>
  runPlan(steps, { ctx, store: await store(), gate: autoYesGate(), mode, resume: RESUME, ...more });

async function onDisk(): Promise<Record<string, { status: string }>> {
  return JSON.parse(await readFile(progress, "utf8")).steps;
}

describe("runPlan apply", () => {
  it("checks, asks with the description only, records intent before acting, applies, verifies, records done", async () => {
    const steps = plan();
    const gate = scripted(["yes", "yes", "yes"]);
    const seenDuringApply: string[] = [];
    ctx.during = async (id) => {
      seenDuringApply.push(`${id}:${(await onDisk())[id]?.status}`);
    };
    const result = await runStore(steps, "apply", { gate });
    expect(result).toMatchObject({ mode: "apply", changed: true, complete: true });
    expect(result.steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "make-a:applied",
      "make-b:applied",
      "check-files:applied",
    ]);
    expect(seenDuringApply).toEqual(["make-a:applying", "make-b:applying"]);
    expect(await readdir(dir)).toEqual(["a", "b"]);
    expect(Object.entries(await onDisk()).map(([id, r]) => `${id}:${r.status}`)).toEqual([
      "make-a:done",
      "make-b:done",
      "check-files:done",
    ]);
    expect((await stat(progress)).mode & 0o777).toBe(0o600);
    // The gate gets descriptions: data, no actions to call.
    expect(gate.asked.map((r) => r.step.id)).toEqual(["make-a", "make-b", "check-files"]);
    for (const r of gate.asked) {
      expect(Object.values(r.step).some((v) => typeof v === "function")).toBe(false);
      expect(r.step).not.toHaveProperty("actions");
    }
    // Each step's check ran once: apply used what check found.
    expect(ctx.checks).toEqual(["make-a", "make-b"]);
  });

  it("the calls a step makes are the calls its description plans", async () => {
    const steps = plan();
    await runStore(steps, "apply");
    const planned = steps.flatMap((s) => (s.current?.(ctx) ?? s.description).calls.map((c) => c.display));
    expect(ctx.made).toEqual(planned);
    expect(planned).toEqual([
      `mkdir -p ${dir}`,
      `touch ${join(dir, "a")}`,
      `mkdir -p ${dir}`,
      `touch ${join(dir, "b")}`,
    ]);
  });

  it("a second run finds everything done, asks nothing and leaves the progress file as it was", async () => {
    await runStore(plan(), "apply");
    const before = await readFile(progress, "utf8");
    const again = await runStore(plan().slice(0, 2), "apply", { gate: neverAsk });
    expect(again.steps.map((s) => s.outcome)).toEqual(["already-done", "already-done"]);
    expect(again.changed).toBe(false);
    expect(await readFile(progress, "utf8")).toBe(before);
  });

  it("a failure is recorded as failed with a StepFailedError; the next run resumes at that step", async () => {
    ctx.during = async (id) => {
      if (id === "make-b") throw new Error("disk full");
    };
    const error = await runStore(plan(), "apply").catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "make-b", exitCode: 5 });
    expect(error.message).toContain('Step "make-b" (Create b) failed while running: disk full');
    expect(error.hint).toContain(RESUME);
    expect((await onDisk())["make-b"]).toMatchObject({ status: "failed", error: "disk full" });
    delete ctx.during;
    const gate = scripted(["yes", "yes"]);
    const again = await runStore(plan(), "apply", { gate });
    expect(again.steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "make-a:already-done",
      "make-b:applied",
      "check-files:applied",
    ]);
    expect(gate.asked.map((r) => r.step.id)).toEqual(["make-b", "check-files"]);
  });

  it("Ctrl-C during a step saves it as interrupted, names the resume command; the next run continues", async () => {
    const controller = new AbortController();
    ctx.during = async (id) => {
      if (id !== "make-b") return;
      controller.abort();
      throw new Error("killed by SIGINT");
    };
    const error = await runStore(plan(), "apply", { signal: controller.signal }).catch((e) => e);
    expect(error).toMatchObject({ code: "INTERRUPTED", exitCode: 130 });
    expect(error.hint).toContain(RESUME);
    expect((await onDisk())["make-b"]?.status).toBe("interrupted");
    delete ctx.during;
    const again = await runStore(plan(), "apply");
    expect(again.steps.map((s) => s.outcome)).toEqual(["already-done", "applied", "applied"]);
  });

  it("no stops (DECLINED), quit stops (QUIT), skip goes on and leaves the run incomplete with a warning", async () => {
    const lines: string[] = [];
    const declined = await runStore(plan(), "apply", { gate: scripted(["no"]) }).catch((e) => e);
    expect(declined).toMatchObject({ code: "DECLINED", exitCode: 7 });
    const quit = await runStore(plan(), "apply", { gate: scripted(["yes", "quit"]) }).catch((e) => e);
    expect(quit).toMatchObject({ code: "QUIT" });
    const skipped = await runStore([fileStep("make-c", "c"), fileStep("make-d", "d")], "apply", {
      gate: scripted(["skip", "yes"]),
      log: (l) => lines.push(l),
    });
    expect(skipped.steps.map((s) => s.outcome)).toEqual(["skipped", "applied"]);
    expect(skipped.complete).toBe(false);
    expect(lines.join("\n")).toContain("warning: needs make-c, which you skipped in this run");
    expect(await readdir(dir)).toEqual(["a", "d"]);
  });

  it("a step found done whose verification fails is run again", async () => {
    const step = fileStep("make-a", "a");
    let verifyFails = true;
    const verify = step.actions.verify;
    step.actions.verify = async (c) => {
      if (verifyFails) {
        verifyFails = false;
        throw new Error("stale");
      }
      await verify(c);
    };
    await run("mkdir", ["-p", dir]);
    await writeFile(join(dir, "a"), "");
    const lines: string[] = [];
    const result = await runStore([step], "apply", { log: (l) => lines.push(l) });
    expect(result.steps[0]?.outcome).toBe("applied");
    expect(lines.join("\n")).toContain("found done but its verification failed (stale)");
  });

  it("--step, --from and --replace select steps; an unknown id is refused", async () => {
    const lines: string[] = [];
    const only = await runStore(plan(), "apply", { step: "make-b", log: (l) => lines.push(l) });
    expect(only.steps.map((s) => s.id)).toEqual(["make-b"]);
    expect(lines.join("\n")).toContain(
      `warning: needs make-a, which is not done (never run): it will probably fail; run it first (\`${RESUME} --step make-a\`)`,
    );
    const from = await runStore(plan(), "apply", { from: "make-a", replace: "make-b" });
    expect(from.steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "make-a:applied",
      "make-b:replaced",
      "check-files:applied",
    ]);
    expect(ctx.made).toContain(`rm -f ${join(dir, "b")}`);
    await expect(runStore(plan(), "apply", { step: "nope" })).rejects.toMatchObject({ code: "UNKNOWN_STEP" });
  });
});

describe("runPlan undo", () => {
  it("undoes in reverse only what ran; a read-only step is forgotten without asking; the progress file goes", async () => {
    await runStore(plan(), "apply", { step: "make-a" });
    await runStore(plan(), "apply", { from: "check-files" }).catch(() => {});
    // check-files failed (b is missing) and is recorded; make-b never ran.
    expect(Object.keys(await onDisk())).toEqual(["make-a", "check-files"]);
    const gate = scripted(["yes"]);
    const result = await runStore(plan(), "undo", { gate, resume: "labgate test destroy" });
    expect(result.steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "check-files:nothing-to-undo",
      "make-b:nothing-to-undo",
      "make-a:undone",
    ]);
    expect(gate.asked.map((r) => `${r.action}:${r.step.id}`)).toEqual(["undo:make-a"]);
    expect(result).toMatchObject({ changed: true, complete: true });
    expect(await readdir(dir)).toEqual([]);
    await expect(access(progress)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("an undo that fails keeps the record as failed, for the next undo", async () => {
    await runStore(plan().slice(0, 1), "apply");
    const step = fileStep("make-a", "a");
    step.actions.undo = async () => {
      throw new Error("busy");
    };
    const error = await runStore([step], "undo").catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "make-a" });
    expect((await onDisk())["make-a"]).toMatchObject({ status: "failed", error: "busy" });
  });
});

describe("runPlan interruptions and broken checks", () => {
  it("Ctrl-C during an undo saves it as interrupted and names the undo command", async () => {
    await runStore(plan().slice(0, 1), "apply");
    const controller = new AbortController();
    const step = fileStep("make-a", "a");
    step.actions.undo = async () => {
      controller.abort();
      throw new Error("killed");
    };
    const error = await runStore([step], "undo", {
      resume: "labgate test destroy",
      signal: controller.signal,
    }).catch((e) => e);
    expect(error).toMatchObject({ code: "INTERRUPTED", exitCode: 130 });
    expect(error.hint).toContain("labgate test destroy");
    expect((await onDisk())["make-a"]?.status).toBe("interrupted");
  });

  it("a check that throws stops the run as a failed check and records nothing", async () => {
    const step = fileStep("make-a", "a");
    step.actions.check = async () => {
      throw new Error("permission denied");
    };
    const error = await runStore([step], "apply", { gate: neverAsk }).catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "make-a" });
    expect(error.message).toContain("failed while checking whether it is already done: permission denied");
    await expect(access(progress)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("runPlan dry-run", () => {
  it("only checks: nothing runs, nothing is recorded, nobody is asked; a failing check is unknown", async () => {
    await run("mkdir", ["-p", dir]);
    await writeFile(join(dir, "a"), "");
    const broken = fileStep("make-x", "x");
    broken.actions.check = async () => {
      throw new Error("cannot reach the host");
    };
    const s = await store();
    const result = await runPlan([...plan().slice(0, 2), broken], {
      ctx,
      store: s,
      gate: neverAsk,
      mode: "dry-run",
      resume: RESUME,
    });
    expect(result.steps.map((x) => `${x.id}:${x.outcome}`)).toEqual([
      "make-a:already-done",
      "make-b:would-run",
      "make-x:unknown",
    ]);
    expect(result.steps[2]?.detail).toContain("cannot reach the host");
    // Each step as apply would show it: its current description, the run's values filled in.
    expect(result.steps[1]?.calls.map((c) => c.display)).toEqual([`mkdir -p ${dir}`, `touch ${dir}/b`]);
    expect(result).toMatchObject({ changed: false, complete: false });
    expect(ctx.made).toEqual([]);
    expect(await readdir(dir)).toEqual(["a"]);
    expect(await readdir(root)).toEqual(["work"]);
  });

  it("shows a call that depends on what the check found, as the apply gate would", async () => {
    const step = fileStep("make-a", "a");
    step.current = (_c, found) => ({
      ...step.description,
      calls: [commandCall(["touch", found?.facts?.missing ?? "?"])],
    });
    const result = await runStore([step], "dry-run", { gate: neverAsk });
    expect(result.steps[0]?.calls.map((c) => c.display)).toEqual([`touch ${join(dir, "a")}`]);
  });

  it("of undo: what ran, in reverse, with its undo calls; nothing checked, undone, forgotten or asked", async () => {
    await runStore(plan().slice(0, 1), "apply");
    await runStore([checkStep("check-files", ["a"])], "apply");
    const before = await readFile(progress, "utf8");
    ctx.checks = [];
    ctx.made = [];
    const result = await runStore(plan(), "dry-run", { dryRunOf: "undo", gate: neverAsk });
    expect(result.steps.map((x) => `${x.id}:${x.outcome}`)).toEqual([
      "check-files:nothing-to-undo",
      "make-b:nothing-to-undo",
      "make-a:would-undo",
    ]);
    expect(result.steps.map((x) => x.detail)).toEqual([
      "read-only check; its record would be cleared",
      "it never ran here",
      undefined,
    ]);
    expect(result.steps[2]?.calls.map((c) => c.display)).toEqual([`rm -f ${join(dir, "a")}`]);
    expect(result).toMatchObject({ mode: "dry-run", changed: false, complete: false });
    expect(ctx.checks).toEqual([]);
    expect(ctx.made).toEqual([]);
    expect(await readdir(dir)).toEqual(["a"]);
    expect(await readFile(progress, "utf8")).toBe(before);
    // --step picks one; the caller's hooks say what ran and what it owns.
    const one = await runStore(plan(), "dry-run", {
      dryRunOf: "undo",
      gate: neverAsk,
      step: "make-b",
      hooks: { ran: () => true, owned: (id) => [`file ${id}`] },
    });
    expect(one.steps).toMatchObject([{ id: "make-b", outcome: "would-undo", detail: "removes file make-b" }]);
  });
});

describe("createJsonPlanStore", () => {
  it("refuses a file that is not a progress file, naming it", async () => {
    await run("mkdir", ["-p", join(root, "state")]);
    await writeFile(progress, JSON.stringify({ version: 1, steps: { a: { status: "weird", at: "x" } } }));
    await expect(createJsonPlanStore(progress)).rejects.toMatchObject({ code: "STATE_CORRUPT", exitCode: 3 });
    await writeFile(progress, "[]");
    await expect(createJsonPlanStore(progress)).rejects.toThrow(progress);
  });

  it("two stores on one file keep each other's records (each change re-reads under the lock)", async () => {
    const one: JsonPlanStore = await createJsonPlanStore(progress);
    const two: JsonPlanStore = await createJsonPlanStore(progress);
    await Promise.all([
      ...["a", "b", "c"].map((id) => one.mark(id, { status: "done" })),
      ...["d", "e"].map((id) => two.mark(id, { status: "applying" })),
    ]);
    expect(Object.keys(await onDisk()).sort()).toEqual(["a", "b", "c", "d", "e"]);
    const doneAt = (await createJsonPlanStore(progress)).status("a")?.doneAt;
    await one.mark("a", { status: "done" });
    expect(one.status("a")?.doneAt).toBe(doneAt);
  });
});
