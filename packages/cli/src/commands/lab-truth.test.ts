import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess } from "../test-support/in-process-cli.js";
import { freePorts } from "../test-support/loopback-ports.js";

/**
 * Lab truth and safety on the real local lab (python3 apps, real HAProxy on loopback free ports):
 * status is a check, the state dir holds only what labgate owns, another lab's state is refused,
 * --replace rebuilds a step, Ctrl-C under a closed pipe still exits 130.
 */
let root: string;

interface State {
  lab: string;
  resources: { kind: string; id: string; stepId: string; data?: { pid?: number } }[];
}

async function labSpec(dir: string, name: string): Promise<string> {
  const ports = await freePorts(4);
  const file = join(dir, `${name}.json`);
  await writeFile(
    file,
    JSON.stringify({
      name,
      apps: { ports: [ports[0], ports[1]] },
      lb: { port: ports[2], statsPort: ports[3] },
      bench: { enabled: false },
    }),
  );
  return file;
}

const readState = async (stateDir: string): Promise<State> =>
  JSON.parse(await readFile(join(stateDir, "state.json"), "utf8"));
const pids = async (stateDir: string) =>
  (await readState(stateDir)).resources
    .filter((r) => r.kind === "process")
    .map((r) => r.data?.pid)
    .filter((p): p is number => typeof p === "number");
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

const started: string[] = [];
async function up(spec: string, stateDir: string, ...more: string[]) {
  const r = await runCliInProcess(["lab", "up", "--yes", "--spec", spec, "--state-dir", stateDir, ...more]);
  if (r.code === 0) started.push(stateDir);
  return r;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "labgate-cli-truth-"));
});

afterAll(async () => {
  for (const dir of started) {
    for (const pid of await pids(dir).catch(() => [])) if (alive(pid)) process.kill(pid, "SIGKILL");
  }
  await rm(root, { recursive: true, force: true });
});

describe("lab truth on the real local lab", { timeout: 180_000 }, () => {
  it("status exits 0 only when healthy, 1 with a stopped app; --json carries the same verdicts", async () => {
    const dir = join(root, "status");
    await mkdir(dir);
    const spec = await labSpec(dir, "truth-status");
    const stateDir = join(dir, "state");
    const before = await runCliInProcess(["lab", "status", "--spec", spec, "--state-dir", stateDir]);
    expect(before.code, before.stderr).toBe(1);
    expect(before.stdout).toContain("the lab is not built here");
    expect((await up(spec, stateDir)).code).toBe(0);

    const good = await runCliInProcess(["lab", "status", "--json", "--spec", spec, "--state-dir", stateDir]);
    expect(good.code, good.stdout).toBe(0);
    const goodJson = JSON.parse(good.stdout);
    expect(goodJson.healthy).toBe(true);
    expect(goodJson.resources.every((r: { health: string }) => r.health === "healthy")).toBe(true);

    const app1 = (await readState(stateDir)).resources.find((r) => r.kind === "process" && r.id === "app1");
    process.kill(app1!.data!.pid!, "SIGKILL");
    await expect.poll(() => alive(app1!.data!.pid!)).toBe(false);
    const human = await runCliInProcess(["lab", "status", "--spec", spec, "--state-dir", stateDir]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/unhealthy\s+process app1/);
    expect(human.stdout).toContain("Overall: NOT healthy (exit 1");
    const bad = await runCliInProcess(["lab", "status", "--json", "--spec", spec, "--state-dir", stateDir]);
    expect(bad.code).toBe(1);
    const badJson = JSON.parse(bad.stdout);
    expect(badJson.healthy).toBe(false);
    expect(badJson.resources.find((r: { id: string }) => r.id === "app1")).toMatchObject({
      health: "unhealthy",
      detail: "not running",
    });
    expect(badJson.steps.find((s: { id: string }) => s.id === "start-app1").live).toMatchObject({
      done: false,
    });

    // --replace rebuilds the step even though nothing forces it; up then repairs and status is 0 again.
    expect((await up(spec, stateDir)).code).toBe(0);
    const lbBefore = (await readState(stateDir)).resources.find((r) => r.id === "lb")?.data?.pid;
    const replaced = await up(spec, stateDir, "--replace", "start-haproxy");
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toContain("replace start-haproxy");
    const lbAfter = (await readState(stateDir)).resources.find((r) => r.id === "lb")?.data?.pid;
    expect(lbAfter).toBeDefined();
    expect(lbAfter).not.toBe(lbBefore);
    const after = await runCliInProcess(["lab", "status", "--spec", spec, "--state-dir", stateDir]);
    expect(after.code, after.stdout).toBe(0);
    expect(
      (await runCliInProcess(["lab", "down", "--yes", "--spec", spec, "--state-dir", stateDir])).code,
    ).toBe(0);
    expect(await exists(stateDir)).toBe(false);
  });

  it("--state-dir . in a project folder: down keeps the folder, its lab.json and foreign files, and its mode", async () => {
    const project = join(root, "project");
    await mkdir(project, { mode: 0o755 });
    const spec = await labSpec(project, "lab");
    await writeFile(join(project, "notes.txt"), "mine");
    const mode = (await stat(project)).mode & 0o777;
    expect((await up(spec, project)).code).toBe(0);
    expect((await stat(project)).mode & 0o777).toBe(mode);
    const down = await runCliInProcess(["lab", "down", "--yes", "--spec", spec, "--state-dir", project]);
    expect(down.code, down.stderr).toBe(0);
    expect((await readdir(project)).sort()).toEqual(["lab.json", "notes.txt"]);
    expect(down.stdout).toContain("holds files labgate did not create");
  });

  it("a state dir shared by mistake: the second lab is refused with exit 3 naming the first, which keeps running", async () => {
    const dir = join(root, "shared");
    await mkdir(dir);
    const first = await labSpec(dir, "first-lab");
    const second = await labSpec(dir, "second-lab");
    const stateDir = join(dir, "state");
    expect((await up(first, stateDir)).code).toBe(0);
    const running = await pids(stateDir);
    expect(running.length).toBe(3);
    for (const command of ["up", "down", "status"]) {
      const r = await runCliInProcess([
        "lab",
        command,
        ...(command === "status" ? [] : ["--yes"]),
        "--spec",
        second,
        "--state-dir",
        stateDir,
      ]);
      expect(r.code, `${command}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toContain("error [STATE_DIR_OTHER_LAB]");
      expect(r.stderr).toContain('lab "first-lab"');
    }
    expect(running.every(alive)).toBe(true);
    expect((await readState(stateDir)).lab).toBe("first-lab");
    expect(
      (await runCliInProcess(["lab", "down", "--yes", "--spec", first, "--state-dir", stateDir])).code,
    ).toBe(0);
    expect(running.some(alive)).toBe(false);
  });

  it("Ctrl-C while stdout and stderr are pipes whose reader is gone still exits 130", async () => {
    // Built by `npm test` before the tests (like lab-local.test.ts): the real binary, real signal, real pipes.
    const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npx turbo run build).`);
    const dir = join(root, "pipe");
    await mkdir(dir);
    const spec = await labSpec(dir, "pipe-lab");
    const stateDir = join(dir, "state");
    started.push(stateDir);
    const child = spawn("node", [bin, "lab", "up", "--yes", "--spec", spec, "--state-dir", stateDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Ctrl-C once app1 has started; a run that ends before that fails here with what it printed.
    const reached = await Promise.race([
      new Promise<true>((resolve) => {
        child.stderr.on("data", (c) => {
          stderr += String(c);
          if (/app1: started pid \d+/.test(stderr)) resolve(true);
        });
      }),
      exited.then(() => false as const),
    ]);
    expect(reached, `lab up ended before app1 started:\n${stderr}`).toBe(true);
    // Like `| tee log` when the same Ctrl-C killed tee: nobody reads either pipe any more.
    child.stdout.destroy();
    child.stderr.destroy();
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect((await readState(stateDir)).resources.some((r) => r.kind === "process")).toBe(true);
    const down = await runCliInProcess(["lab", "down", "--yes", "--spec", spec, "--state-dir", stateDir]);
    expect(down.code, down.stderr).toBe(0);
  });
});
