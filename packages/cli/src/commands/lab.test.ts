import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { registerProvider } from "@labgate/lxd-lab";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fakeProvider } from "../../../lxd-lab/src/engine/test-support/fake-provider.js";
import { labDownCommand, labPlanCommand, labStatusCommand, labUpCommand, labVerifyCommand } from "./lab.js";
import type { LabIo } from "./lab-context.js";

/** The process is gone or a zombie: its exit has run and closed its files and sockets. */
async function exited(pid: number): Promise<boolean> {
  const line = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return line === null || line.slice(line.lastIndexOf(")") + 2).startsWith("Z");
}

let cwd: string;
let restore: () => void;
let events: string[];

beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), "labgate-cli-lab-"));
  events = [];
  // The fake provider stands in for "local": real files and a real loopback server, no HAProxy.
  restore = registerProvider({ ...fakeProvider({ events }), name: "local" });
});
afterEach(async () => {
  await labDownCommand({ yes: true }, io().io).catch(() => {});
  restore();
  await rm(cwd, { recursive: true, force: true });
});

function io(input = "", tty = false) {
  const stdin = Object.assign(new PassThrough(), { isTTY: tty });
  stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => {
    out += String(c);
  });
  stderr.on("data", (c) => {
    err += String(c);
  });
  const value: LabIo = { stdin, stdout, stderr, cwd };
  return { io: value, out: () => out, err: () => err };
}

describe("labgate lab (in process)", () => {
  it("plan --json prints exactly one JSON document with every step", async () => {
    const t = io();
    expect(await labPlanCommand({ json: true }, t.io)).toBe(0);
    const plan = JSON.parse(t.out());
    expect(plan).toMatchObject({
      lab: "demo",
      provider: "local",
      source: "(built-in default)",
      stateDir: join(cwd, ".labgate/labs/demo"),
    });
    expect(plan.steps.map((s: { id: string }) => s.id)).toEqual([
      "make-dir",
      "write-config",
      "start-server",
      "write-marker",
    ]);
    expect(events).toEqual([]);
  });

  it("up --dry-run prints the plan with what each check finds and runs nothing", async () => {
    const t = io();
    expect(await labUpCommand({ dryRun: true }, t.io)).toBe(0);
    expect(t.out()).toContain(" 3. start-server — Start the HTTP server\n    → would run\n");
    expect(t.out()).toContain("$ node -e <server> <state>/work/port");
    expect(t.err()).toContain("Dry run of `lab up`: nothing is run.");
    // The runner's dry run: every check looked, nothing was applied.
    expect(events).toEqual([
      "check:make-dir",
      "check:write-config",
      "check:start-server",
      "check:write-marker",
    ]);
    await expect(stat(join(cwd, ".labgate"))).rejects.toMatchObject({ code: "ENOENT" });

    // --json: today's fields (the plan's steps, source, state dir, records) and each step's outcome.
    const j = io();
    await labUpCommand({ dryRun: true, json: true, step: "write-config" }, j.io);
    const doc = JSON.parse(j.out());
    expect(doc).toMatchObject({ dryRun: true, action: "up", lab: "demo", provider: "local", recorded: {} });
    expect(doc.stateDir).toBe(join(cwd, ".labgate/labs/demo"));
    expect(doc.steps).toEqual([
      {
        index: 2,
        id: "write-config",
        title: "Write the config file",
        why: "The server reads its ports from a config file.",
        commands: ["write <state>/work/config.json"],
        diagnostics: [],
        outcome: "would-run",
      },
    ]);
    await expect(labUpCommand({ dryRun: true, step: "nope" }, io().io)).rejects.toMatchObject({
      code: "UNKNOWN_STEP",
      exitCode: 2,
    });
  });

  it("--dry-run on a built lab: up finds every step done, down lists the undo calls; neither changes anything", async () => {
    expect(await labUpCommand({ yes: true }, io().io)).toBe(0);
    const stateFile = join(cwd, ".labgate/labs/demo/state.json");
    const before = await readFile(stateFile, "utf8");
    const modified = (await stat(stateFile)).mtimeMs;
    events.length = 0;

    const up = io();
    expect(await labUpCommand({ dryRun: true, json: true }, up.io)).toBe(0);
    const upDoc = JSON.parse(up.out());
    expect(upDoc.steps.map((s: { id: string; outcome: string }) => `${s.id}:${s.outcome}`)).toEqual([
      "make-dir:already-done",
      "write-config:already-done",
      "start-server:already-done",
      "write-marker:already-done",
    ]);
    expect(upDoc.steps[0].detail).toBe("work directory exists");
    expect(upDoc.recorded["start-server"]).toMatchObject({ status: "done" });

    const down = io();
    expect(await labDownCommand({ dryRun: true, json: true }, down.io)).toBe(0);
    const downDoc = JSON.parse(down.out());
    expect(downDoc).toMatchObject({ dryRun: true, action: "down" });
    const pid = JSON.parse(before).resources.find((r: { kind: string }) => r.kind === "process").id;
    expect(downDoc.steps.find((s: { id: string }) => s.id === "start-server")).toMatchObject({
      index: 3,
      outcome: "would-undo",
      detail: `removes process ${pid}`,
      undoCommands: ["kill -TERM <pid>", "rm -f <state>/work/port"],
    });
    expect(downDoc.steps.map((s: { id: string }) => s.id)).toEqual([
      "write-marker",
      "start-server",
      "write-config",
      "make-dir",
    ]);
    const human = io();
    await labDownCommand({ dryRun: true }, human.io);
    expect(human.out()).toContain(
      " 3. start-server — Start the HTTP server  [recorded: done]\n    → would be undone: removes process",
    );
    expect(human.out()).toContain("    undo commands:\n      $ kill -TERM <pid>\n");

    // Nothing changed: up's dry run only checked, down's read the records; the state file is as it was.
    expect(events.filter((e) => !e.startsWith("check:"))).toEqual([]);
    expect(await readFile(stateFile, "utf8")).toBe(before);
    expect((await stat(stateFile)).mtimeMs).toBe(modified);
    const status = io();
    expect(await labStatusCommand({}, status.io)).toBe(0);
  });

  it("up without a terminal and without --yes refuses (exit 7) and runs nothing", async () => {
    const t = io();
    await expect(labUpCommand({}, t.io)).rejects.toMatchObject({ code: "NOT_CONFIRMED", exitCode: 7 });
    expect(events.filter((e) => e.startsWith("apply:"))).toEqual([]);
    expect(t.err()).not.toContain("confirmed by --yes");
    // Nothing half-made is left: not the state dir, nor the .labgate/labs it would have lived in.
    await expect(stat(join(cwd, ".labgate"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("up --yes --json, then again (nothing to do), status, verify, down: the whole cycle", async () => {
    const up = io();
    expect(await labUpCommand({ yes: true, json: true }, up.io)).toBe(0);
    const result = JSON.parse(up.out());
    expect(result).toMatchObject({ action: "up", changed: true, complete: true });
    expect(up.err()).toContain("── step 3/4: start-server — Start the HTTP server");

    const again = io();
    await labUpCommand({}, again.io);
    expect(again.out()).toContain("nothing to do: all 4 steps already done and verified");

    const status = io();
    expect(await labStatusCommand({}, status.io)).toBe(0);
    expect(status.out()).toMatch(/healthy\s+process \d+ {2}\(step start-server\) — pid \d+ answers/);
    expect(status.out()).toContain("Overall: healthy");

    const verify = io();
    expect(await labVerifyCommand({ requests: "5", json: true }, verify.io)).toBe(0);
    expect(JSON.parse(verify.out())).toMatchObject({ passed: true, summary: "5/5 served by fake" });
    await expect(labVerifyCommand({ requests: "zero" }, io().io)).rejects.toMatchObject({
      code: "INVALID_FLAG",
      exitCode: 2,
    });

    const downDry = io();
    await labDownCommand({ dryRun: true }, downDry.io);
    expect(downDry.out().indexOf("write-marker")).toBeLessThan(downDry.out().indexOf("make-dir"));
    expect(downDry.out()).toContain("[recorded: done]");
    expect(downDry.out()).toContain("→ would be undone");

    const down = io();
    expect(await labDownCommand({ yes: true }, down.io)).toBe(0);
    expect(down.out()).toContain(
      `lab "demo" is down: 4 step(s) undone, state dir ${join(cwd, ".labgate/labs/demo")} removed`,
    );
    await expect(stat(join(cwd, ".labgate"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a killed server makes verify exit 1 and status say unhealthy", async () => {
    await labUpCommand({ yes: true }, io().io);
    const state = JSON.parse(await readFile(join(cwd, ".labgate/labs/demo/state.json"), "utf8"));
    const pid = Number(state.resources.find((r: { kind: string }) => r.kind === "process").id);
    process.kill(pid, "SIGKILL");
    // Until the kernel has run its exit (its sockets closed), the server may still answer: wait for
    // that, not for a fixed time a loaded machine can outlast.
    await expect.poll(() => exited(pid), { timeout: 10_000, interval: 20 }).toBe(true);
    const verify = io();
    expect(await labVerifyCommand({}, verify.io)).toBe(1);
    expect(verify.out()).toContain("FAIL: served: ");
    expect(verify.err()).toContain('lab "demo" failed verification');
    const status = io();
    await labStatusCommand({ json: true }, status.io);
    expect(JSON.parse(status.out())).toMatchObject({ healthy: false });
  });

  it("answers come from the terminal: y, then e, s, then q stops with exit 7", async () => {
    const t = io("y\ne\ns\nq\n", true);
    await expect(labUpCommand({}, t.io)).rejects.toMatchObject({ code: "QUIT", exitCode: 7 });
    expect(events.filter((e) => e.startsWith("apply:"))).toEqual(["apply:make-dir"]);
    expect(t.err()).toContain("Commands / API calls it makes, exactly:");
  });

  it("--spec and --state-dir: a YAML spec with a bad field is exit 2 naming file and field; a good one is used", async () => {
    await writeFile(join(cwd, "bad.yaml"), "apps:\n  ports: [8000, 99999]\n");
    await expect(labPlanCommand({ spec: "bad.yaml" }, io().io)).rejects.toMatchObject({
      code: "LAB_SPEC_INVALID",
      exitCode: 2,
      message: "bad.yaml: apps.ports[1]: must be a whole number from 1 to 65535, got 99999",
    });
    await writeFile(join(cwd, "lab.yaml"), "name: other\napps:\n  count: 3\n");
    const t = io();
    await labUpCommand({ yes: true, stateDir: "st" }, t.io);
    const state = JSON.parse(await readFile(join(cwd, "st/state.json"), "utf8"));
    expect(state.spec).toMatchObject({ name: "other", apps: { ports: [8000, 8001, 8002] } });
    // down uses the recorded spec even after lab.yaml changed.
    await writeFile(join(cwd, "lab.yaml"), "name: other\napps:\n  count: 1\n");
    const down = io();
    await labDownCommand({ yes: true, stateDir: "st" }, down.io);
    expect(down.err()).toContain("Using the spec recorded when this lab was built");
    await expect(stat(join(cwd, "st"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
