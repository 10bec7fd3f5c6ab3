import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePorts, isFree } from "../test-support/loopback-ports.js";

/**
 * `labgate demo` end to end through the built binary on the real local provider: two sentiment app
 * processes, the real HAProxy, a real benchmark, the report, and a teardown that leaves no port held.
 */
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
let cwd: string;
let ports: number[];

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (npx turbo run build).`);
});
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), "labgate-demo-local-"));
  ports = await freePorts(4);
  await writeFile(
    join(cwd, "lab.json"),
    JSON.stringify({
      name: "demo-e2e",
      apps: { ports: [ports[0], ports[1]] },
      lb: { port: ports[2], statsPort: ports[3] },
    }),
  );
});
afterEach(async () => {
  // Whatever happened, do not leave the lab running.
  await runCli(["lab", "down", "--yes"]).catch(() => {});
  await rm(cwd, { recursive: true, force: true });
});

/** Bound on one CLI run (a whole demo: up, verify, bench, report, down). */
const CLI_RUN_MS = 60_000;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("node", [bin, ...args], { cwd, timeout: CLI_RUN_MS }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// One demo run per test, plus the checks around it: the test's bound follows the run's.
describe("labgate demo on the local provider", { timeout: CLI_RUN_MS + 30_000 }, () => {
  it("up, verify, bench, report, down: exit 0 and nothing left listening", async () => {
    const r = await runCli(["demo", "--yes", "--json", "--duration", "1s", "--connections", "4"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.verify).toMatchObject({ passed: true });
    expect(result.bench).toMatchObject({
      available: true,
      url: `http://127.0.0.1:${ports[2]}/predict`,
      request: { method: "POST", contentType: "application/json" },
      slosPassed: true,
    });
    // Through HAProxy to the real app, a 200 on /predict is only ever a model answer to a valid
    // POST: GET /predict is a 405, a bad body a 400, a missing backend a 503.
    const measured = JSON.parse(await readFile(result.bench.reports.resultJson, "utf8"));
    expect(result.bench.statusCodes).toEqual({ "200": measured.requests.responses });
    expect(measured.requests.responses).toBeGreaterThan(10);
    const report = await readFile(result.bench.reports.reportMd, "utf8");
    expect(report).toContain(
      `POST http://127.0.0.1:${ports[2]}/predict with a ${result.bench.request.bodyBytes} B body`,
    );
    expect(report).toContain("app1");
    expect(report).toContain("app2");
    expect(result.down).toMatchObject({ stateRemoved: true });
    expect(await readdir(join(cwd, ".labgate"))).toEqual(["reports"]);
    for (const port of ports) expect(await isFree(port), `port ${port} still held`).toBe(true);
    await expect(stat(join(cwd, ".labgate/labs"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("labgate demo --keep", { timeout: CLI_RUN_MS + 30_000 }, () => {
  it("the apps' own request logs show the benchmark's POST /predict requests, on both apps", async () => {
    const r = await runCli(["demo", "--yes", "--keep", "--json", "--duration", "1s", "--connections", "4"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    const measured = JSON.parse(await readFile(result.bench.reports.resultJson, "utf8"));
    const predictions: Record<string, number> = {};
    for (const name of ["app1", "app2"]) {
      const log = await readFile(join(cwd, ".labgate/labs/demo-e2e/logs", `${name}.log`), "utf8");
      predictions[name] = log.split("\n").filter((l) => l.includes('"POST /predict HTTP/1.1" 200 ')).length;
      // Nothing else but health checks and the round-robin verify hit the apps.
      const others = log
        .split("\n")
        .filter((l) => /"[A-Z]+ \S+ HTTP\/1\.1"/.test(l) && !l.includes('"POST /predict HTTP/1.1" 200 '));
      expect(
        others.every((l) => /"GET \/(health)? HTTP\/1\.1" 200 /.test(l)),
        others.join("\n"),
      ).toBe(true);
    }
    expect(predictions["app1"]).toBeGreaterThan(0);
    expect(predictions["app2"]).toBeGreaterThan(0);
    expect(predictions["app1"]! + predictions["app2"]!).toBeGreaterThanOrEqual(measured.requests.responses);
  });
});

describe("labgate demo interrupted", { timeout: CLI_RUN_MS + 30_000 }, () => {
  it("Ctrl-C during the benchmark: the report is still written, the lab is torn down, exit 130", async () => {
    const child = spawn("node", [bin, "demo", "--yes", "--duration", "30s", "--connections", "2"], { cwd });
    let stderr = "";
    // The bench step logs "bench: POST <url>" right before it starts measuring: from then on Ctrl-C
    // interrupts the measurement (before it, the step and no report). Waiting for that line, not for
    // a fixed time after the section's title, keeps a slow machine from interrupting the step's set-up.
    const benchStarted = new Promise<void>((resolve) => {
      child.stderr.on("data", (c) => {
        stderr += String(c);
        if (/== 3\/4 benchmark[\s\S]*\nbench: POST /.test(stderr)) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    await benchStarted;
    // Mid-run rather than at its first instant (either way the report is written).
    await new Promise((r) => setTimeout(r, 500));
    child.kill("SIGINT");
    expect(await exited, stderr).toBe(130);
    expect(stderr).toContain("== 4/4 report:");
    expect(stderr).toContain('lab "demo-e2e" is down');
    for (const port of ports) expect(await isFree(port), `port ${port} still held`).toBe(true);
    await expect(stat(join(cwd, ".labgate/labs"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
