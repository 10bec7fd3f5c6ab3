import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { autoYesGate } from "../engine/gate.js";
import { isRunning } from "../providers/local/local-process.js";
import { localProvider } from "../providers/local/local-provider.js";
import { canListen } from "../providers/local/port-owner.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { parseLabSpec } from "../spec/parse-lab-spec.js";
import { freePorts } from "../test-support/free-ports.js";
import { demoPhases } from "./demo-phases.js";
import { type RunDemoOptions, runDemo } from "./run-demo.js";

/** A lab as a user's lab.json describes it, through the spec parser: the local provider on these ports. */
function labSpec(name: string, [a, b, lb, stats]: number[], duration: string): LabSpec {
  return parseLabSpec(
    {
      name,
      apps: { ports: [a, b] },
      lb: { port: lb, statsPort: stats },
      bench: { duration, connections: 2 },
      providerOptions: { verifyRequests: 10 },
    },
    "run-demo.test",
  );
}

describe("demoPhases", () => {
  const spec = labSpec("phases", [1001, 1002, 1003, 1004], "1s");

  it("announces build, verify, bench and report in order, then the teardown that runs whatever happened", () => {
    const phases = demoPhases({ provider: localProvider, spec, reportDir: "/r" });
    expect(phases.map((p) => [p.id, p.final])).toEqual([
      ["up", false],
      ["verify", false],
      ["bench", false],
      ["report", false],
      ["down", true],
    ]);
    expect(phases[2]?.title).toBe(
      "benchmark POST http://127.0.0.1:1003/predict (1 s, 2 connections (closed loop), SLOs: p99<250ms, errors<1%): the lab's bench step",
    );
    expect(phases[3]?.title).toBe("report: /r/report.html");
    for (const p of phases) expect(p.why.length, p.id).toBeGreaterThan(20);
  });

  it("with keep there is no teardown phase", () => {
    const phases = demoPhases({ provider: localProvider, spec, reportDir: "/r", keep: true });
    expect(phases.map((p) => p.id)).toEqual(["up", "verify", "bench", "report"]);
  });
});

type Resources = { resources: { kind: string; id: string; data?: { pid?: number } }[] };

/** The pids the lab state records for its processes (apps and HAProxy), by process id. */
function recordedPids(stateDir: string): Map<string, number> {
  const state = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) as Resources;
  return new Map(
    state.resources.filter((r) => r.kind === "process").map((r) => [r.id, r.data?.pid as number]),
  );
}

// Real python3 apps and a real HAProxy on loopback ports that were free; nothing goes through the CLI.
describe("runDemo on the local provider: teardown after a failure or an abort", { timeout: 120_000 }, () => {
  let root: string;
  let stateDir: string;
  let reportDir: string;
  let ports: number[];
  /** The lab's processes as the teardown starts (the state is gone after it). */
  let pids: number[];
  let phases: string[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "labgate-run-demo-"));
    stateDir = join(root, "lab");
    reportDir = join(root, "reports");
    ports = await freePorts(4);
    pids = [];
    phases = [];
  });
  afterEach(async () => {
    // Whatever a failed assertion left: no process of this test outlives it.
    if (existsSync(join(stateDir, "state.json"))) pids.push(...recordedPids(stateDir).values());
    for (const pid of pids) if (await isRunning(pid)) process.kill(pid, "SIGKILL");
    await rm(root, { recursive: true, force: true });
  });

  /** runDemo on this test's lab with --yes, recording each phase event; `options` adds what the case needs. */
  function demo(name: string, duration: string, options: Partial<RunDemoOptions> = {}) {
    return runDemo({
      provider: localProvider,
      spec: labSpec(name, ports, duration),
      stateDir,
      reportDir,
      gate: autoYesGate(),
      ...options,
      onPhase(e) {
        phases.push(`${e.phase.id}:${e.at}`);
        if (e.phase.id === "down" && e.at === "start") pids = [...recordedPids(stateDir).values()];
        options.onPhase?.(e);
      },
    });
  }

  /** Ctrl-C at a known point: the run's signal aborts `ms` after a log line matches. */
  function abortAfter(line: RegExp, ms: number): Pick<RunDemoOptions, "signal" | "log"> {
    const controller = new AbortController();
    return {
      signal: controller.signal,
      log: (l) => {
        if (line.test(l)) setTimeout(() => controller.abort(), ms);
      },
    };
  }

  async function expectTornDown(): Promise<void> {
    expect(existsSync(stateDir)).toBe(false);
    for (const pid of pids) expect(await isRunning(pid), `pid ${pid} still running`).toBe(false);
    for (const port of ports)
      expect(await canListen("127.0.0.1", port), `port ${port} still held`).toBe(true);
  }

  it("a failed round-robin verify skips the benchmark, tears the lab down and says CHECK_FAILED (1)", async () => {
    const warnings: string[] = [];
    const run = await demo("demo-verify", "1s", {
      warn: (l) => warnings.push(l),
      // app2 dies between the build (which verified it) and the demo's own verify.
      onPhase(e) {
        if (e.phase.id === "verify" && e.at === "start")
          process.kill(recordedPids(stateDir).get("app2") as number, "SIGKILL");
      },
    });
    expect(run.failure).toBeUndefined();
    expect(run.exitCode).toBe(1);
    expect(run.result.up).toMatchObject({ complete: true });
    expect(run.result.verify?.passed).toBe(false);
    expect(run.result.verify?.summary).toMatch(/app2 served none/);
    expect(run.result.bench).toBeNull();
    expect(warnings.join("\n")).toContain("verification failed: the benchmark is skipped");
    expect(phases).toEqual(["up:start", "up:end", "verify:start", "verify:end", "down:start", "down:end"]);
    expect(run.result.down).toMatchObject({ stateRemoved: true, complete: true });
    expect(existsSync(reportDir)).toBe(false);
    expect(pids).toHaveLength(3);
    await expectTornDown();
  });

  it("an abort during the benchmark keeps the report, tears the lab down and says INTERRUPTED (130)", async () => {
    // The bench step logs "bench: POST <url>" as it starts measuring: abort a little into the run.
    const run = await demo("demo-abort", "30s", abortAfter(/^bench: POST /, 500));
    expect(run.exitCode).toBe(130);
    // The interrupt is the failure (the caller rethrows it), and its document says so too.
    expect(run.failure).toMatchObject({ code: "INTERRUPTED" });
    expect(run.result.error?.code).toBe("INTERRUPTED");
    expect(run.result.verify?.passed).toBe(true);
    expect(run.result.bench).toMatchObject({ aborted: true, reports: { dir: reportDir } });
    expect(existsSync(join(reportDir, "report.html"))).toBe(true);
    expect(phases).toContain("report:end");
    expect(phases.slice(-2)).toEqual(["down:start", "down:end"]);
    expect(run.result.down).toMatchObject({ stateRemoved: true, complete: true });
    expect(pids).toHaveLength(3);
    await expectTornDown();
  });

  it("an abort during the build undoes what was built: no process, no state", async () => {
    // Once both apps run, stop before HAProxy is up.
    const run = await demo("demo-abort-up", "1s", abortAfter(/^app2: started pid/, 0));
    expect(run.exitCode).toBe(130);
    expect(run.failure).toMatchObject({ code: "INTERRUPTED" });
    expect(run.result.up).toBeNull();
    expect(phases).toEqual(["up:start", "down:start", "down:end"]);
    expect(run.result.down).toMatchObject({ stateRemoved: true });
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await expectTornDown();
  });
});
