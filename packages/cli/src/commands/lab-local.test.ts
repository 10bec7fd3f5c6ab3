import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts, isFree } from "../test-support/loopback-ports.js";

/**
 * `labgate lab ...` through the built binary on the real local provider (python3 apps, real
 * HAProxy): a real SIGINT in the middle of `up`, resume, an idempotent second `up`, a killed app
 * named by `verify`, and a `down` that leaves no process, port or file.
 */
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
let cwd: string;
let ports: number[];
const stateFile = () => join(cwd, ".labgate/labs/cli-e2e/state.json");

interface Recorded {
  steps: Record<string, { status: string }>;
  resources: { kind: string; id: string; data?: { pid?: number } }[];
}
const readState = async (): Promise<Recorded> => JSON.parse(await readFile(stateFile(), "utf8"));
const pids = async () =>
  (await readState()).resources.filter((r) => r.kind === "process").map((r) => r.data?.pid as number);

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npx turbo run build).`);
  cwd = await mkdtemp(join(tmpdir(), "labgate-cli-local-"));
  ports = await freePorts(4);
  await writeFile(
    join(cwd, "lab.json"),
    JSON.stringify({
      name: "cli-e2e",
      apps: { ports: [ports[0], ports[1]] },
      lb: { port: ports[2], statsPort: ports[3] },
      // The final bench step has its own tests (lxd-lab bench-step, demo); these runs stay on the build steps.
      bench: { enabled: false },
    }),
  );
});

afterAll(async () => {
  // Whatever failed above, leave nothing running.
  const left = await pids().catch(() => []);
  await runCli(["lab", "down", "--yes"]);
  for (const pid of left) if (alive(pid)) process.kill(pid, "SIGKILL");
  await rm(cwd, { recursive: true, force: true });
});

/** Bound on one CLI run (each pays the CLI's start-up, slow on a loaded machine). */
const CLI_RUN_MS = 60_000;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("node", [bin, ...args], { cwd, timeout: CLI_RUN_MS }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// A test makes up to four CLI runs one after another: its bound is theirs added up.
describe("labgate lab on the local provider, through the binary", { timeout: 4 * CLI_RUN_MS }, () => {
  it("verify before anything is built refuses (exit 4) instead of probing the ports", async () => {
    const r = await runCli(["lab", "verify"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain("error [LAB_NOT_BUILT]");
    expect(await readdir(cwd)).toEqual(["lab.json"]);
  });

  it("SIGINT while app2 starts: exit 130, app2's pid already recorded, state says interrupted", async () => {
    const child = spawn("node", [bin, "lab", "up", "--yes"], { cwd });
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (c) => {
      stderr += String(c);
      // One Ctrl-C: a second one means "exit at once" and would skip saving the state.
      if (!sent && /app2: started pid \d+/.test(stderr)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('error [INTERRUPTED]: Interrupted during step "start-app2"');
    const state = await readState();
    expect(state.steps["start-app1"]?.status).toBe("done");
    expect(state.steps["start-app2"]?.status).toBe("interrupted");
    expect(state.steps["start-haproxy"]).toBeUndefined();
    const app2 = state.resources.find((r) => r.kind === "process" && r.id === "app2");
    expect(app2?.data?.pid).toBe(Number(/app2: started pid (\d+)/.exec(stderr)?.[1]));
  });

  it("the next up resumes: app1 and app2 are kept, HAProxy and the round-robin check run", async () => {
    const before = await pids();
    const r = await runCli(["lab", "up", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { steps: { id: string; outcome: string }[]; changed: boolean };
    expect(Object.fromEntries(result.steps.map((s) => [s.id, s.outcome]))).toEqual({
      preflight: "already-done",
      "allocate-address": "already-done",
      "start-app1": "already-done",
      "start-app2": "already-done",
      "start-haproxy": "applied",
      "verify-round-robin": "applied",
    });
    expect((await pids()).slice(0, 2)).toEqual(before);
    expect(r.stderr).toMatch(/^sequence: ((app1|app2) )+(app1|app2)$/m);
  });

  it("a second up changes nothing, says so, and leaves the state file byte for byte", async () => {
    const before = await readFile(stateFile(), "utf8");
    const r = await runCli(["lab", "up", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("nothing to do: all 6 steps already done and verified");
    expect(await readFile(stateFile(), "utf8")).toBe(before);
  });

  it("status --json: every resource healthy; a killed app2 is named by verify (exit 1) and status", async () => {
    const ok = await runCli(["lab", "status", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    const status = JSON.parse(ok.stdout) as { healthy: boolean; resources: { id: string; health: string }[] };
    expect(status.healthy).toBe(true);
    expect(status.resources.map((r) => `${r.id}:${r.health}`)).toEqual([
      "preflight:healthy",
      "127.0.0.1:healthy",
      "app1:healthy",
      "app2:healthy",
      "lb:healthy",
      "verify-round-robin:healthy",
    ]);

    const [, app2] = await pids();
    process.kill(app2!, "SIGKILL");
    await expect.poll(() => alive(app2!)).toBe(false);
    const verify = await runCli(["lab", "verify", "--json", "--requests", "10"]);
    expect(verify.code, verify.stderr).toBe(1);
    const report = JSON.parse(verify.stdout) as {
      passed: boolean;
      summary: string;
      data: { notServing: string[] };
    };
    expect(report.passed).toBe(false);
    expect(report.data.notServing).toEqual(["app2"]);
    expect(report.summary).toContain("backend app2 served none of the 10 requests");
    const broken = await runCli(["lab", "status"]);
    expect(broken.stdout).toMatch(/unhealthy process app2 .* not running/);
    expect(broken.stdout).toContain("live: not done — app2 is not running");
  });

  it("down: every step that changed something undone in reverse, no process, no port, no file left", async () => {
    const before = (await pids()).filter(alive);
    const r = await runCli(["lab", "down", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    const order = [...r.stderr.matchAll(/^\[\d\/6\] ([a-z0-9-]+): undone\.$/gm)].map((m) => m[1]);
    expect(order).toEqual(["start-haproxy", "start-app2", "start-app1", "allocate-address"]);
    // The read-only checks have nothing on the machine to undo: cleared without a gate.
    const checks = [...r.stderr.matchAll(/^\[\d\/6\] ([a-z0-9-]+): a check, nothing to undo/gm)].map(
      (m) => m[1],
    );
    expect(checks).toEqual(["verify-round-robin", "preflight"]);
    expect(r.stderr).not.toContain("undo verify-round-robin");
    for (const pid of before) expect(alive(pid), `pid ${pid} still running`).toBe(false);
    for (const port of ports) expect(await isFree(port), `port ${port} still held`).toBe(true);
    expect(await readdir(cwd)).toEqual(["lab.json"]);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(pid, 0) but holds nothing.
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return "";
    }
  })();
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "" && state !== "Z" && state !== "X";
}
