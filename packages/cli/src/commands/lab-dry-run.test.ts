import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode, isProcessAlive } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { freePorts } from "../test-support/loopback-ports.js";

/**
 * `lab up --dry-run` and `lab down --dry-run` on a built local lab (python3 apps, real HAProxy): the
 * runner's dry run checks the live lab (up) or reads its records (down), and changes nothing.
 */
let dir: string;
let specFile: string;
let stateDir: string;

interface DryStep {
  id: string;
  outcome: string;
  detail?: string;
  commands: string[];
  undoCommands?: string[];
}

const lab = (...args: string[]) => cli(["lab", ...args, "--spec", specFile, "--state-dir", stateDir]);
const stateFile = () => join(stateDir, "state.json");
const pidsOf = (state: string): number[] =>
  (JSON.parse(state) as { resources: { kind: string; data?: { pid?: number } }[] }).resources
    .filter((r) => r.kind === "process")
    .map((r) => r.data?.pid as number);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lgt-cli-dry-run-"));
  const [a, b, lb, stats] = await freePorts(4);
  specFile = join(dir, "lab.yaml");
  stateDir = join(dir, "state");
  await writeFile(
    specFile,
    [
      "name: lgt-cli-dry-run",
      `apps: { ports: [${a}, ${b}] }`,
      `lb: { port: ${lb}, statsPort: ${stats} }`,
      "bench: { enabled: false }",
    ].join("\n"),
  );
}, 30_000);

afterAll(async () => {
  await lab("down", "--yes");
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("labgate lab --dry-run on the local provider", { timeout: 120_000 }, () => {
  it("before the lab exists: up would run every step, down has nothing to undo; nothing is created", async () => {
    const up = await lab("up", "--dry-run", "--json");
    expect(up.code, up.stderr).toBe(ExitCode.OK);
    const steps = JSON.parse(up.stdout).steps as DryStep[];
    expect(steps.map((s) => s.id)).toEqual([
      "preflight",
      "allocate-address",
      "start-app1",
      "start-app2",
      "start-haproxy",
      "verify-round-robin",
    ]);
    expect(steps.filter((s) => s.id !== "preflight").every((s) => s.outcome === "would-run")).toBe(true);
    const down = await lab("down", "--dry-run", "--json");
    expect(down.code, down.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(down.stdout).steps).toEqual([]);
    expect(await readdir(dir)).toEqual(["lab.yaml"]);
  });

  it("on the built lab: up reports every step already done and touches nothing (state file bytes unchanged)", async () => {
    const built = await lab("up", "--yes");
    expect(built.code, built.stderr).toBe(ExitCode.OK);
    const before = await readFile(stateFile(), "utf8");
    const entries = await readdir(stateDir);
    const modified = (await stat(stateFile())).mtimeMs;

    const r = await lab("up", "--dry-run", "--json");
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    const doc = JSON.parse(r.stdout) as { dryRun: boolean; action: string; steps: DryStep[] };
    expect(doc).toMatchObject({ dryRun: true, action: "up" });
    expect(Object.fromEntries(doc.steps.map((s) => [s.id, s.outcome]))).toEqual({
      preflight: "already-done",
      "allocate-address": "already-done",
      "start-app1": "already-done",
      "start-app2": "already-done",
      "start-haproxy": "already-done",
      "verify-round-robin": "already-done",
    });
    // What the check saw, from the live lab.
    expect(doc.steps.find((s) => s.id === "start-app1")?.detail).toMatch(/\d+/);
    const human = await lab("up", "--dry-run");
    expect(human.stdout).toMatch(/ 3\. start-app1 — .*\n {4}= already done: /);

    expect(await readFile(stateFile(), "utf8")).toBe(before);
    expect((await stat(stateFile())).mtimeMs).toBe(modified);
    expect(await readdir(stateDir)).toEqual(entries);
    for (const pid of pidsOf(before)) expect(isProcessAlive(pid), `pid ${pid}`).toBe(true);
  });

  it("down --dry-run lists what would be undone, in reverse, with its undo calls, and changes nothing", async () => {
    const before = await readFile(stateFile(), "utf8");
    const r = await lab("down", "--dry-run", "--json");
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    const steps = (JSON.parse(r.stdout) as { steps: DryStep[] }).steps;
    expect(steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "verify-round-robin:nothing-to-undo",
      "start-haproxy:would-undo",
      "start-app2:would-undo",
      "start-app1:would-undo",
      "allocate-address:would-undo",
      "preflight:nothing-to-undo",
    ]);
    const [app1] = pidsOf(before);
    expect(steps.find((s) => s.id === "start-app1")?.detail).toContain(`process app1`);
    // The undo calls the runner would show at the undo gate, the recorded pid filled in.
    expect(steps.find((s) => s.id === "start-app1")?.undoCommands?.[0]).toContain(`kill -TERM -${app1}`);
    const human = await lab("down", "--dry-run");
    expect(human.stdout).toMatch(
      / 2\. allocate-address — .*\n {4}→ would be undone: removes address 127\.0\.0\.1\n/,
    );
    expect(r.stderr).toContain("Dry run of `lab down`: nothing is run.");

    expect(await readFile(stateFile(), "utf8")).toBe(before);
    expect(isProcessAlive(app1 as number)).toBe(true);
    const status = await lab("status");
    expect(status.code, status.stdout).toBe(ExitCode.OK);
  });
});
