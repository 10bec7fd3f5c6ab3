import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { LabStateStore } from "../../engine/lab-state.js";
import { labStatus, labVerify } from "../../engine/lab-status.js";
import { describePlan } from "../../engine/plan-view.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import type { ResourceRecord } from "../../engine/step.js";
import { detectHaproxy } from "../../haproxy/haproxy-binary.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { freePorts } from "../../test-support/free-ports.js";
import { headerValue, httpProbe } from "../../verify/http-probe.js";
import { isRunning } from "./local-process.js";
import { localProvider } from "./local-provider.js";
import { canListen } from "./port-owner.js";
import { localSpecOnPorts } from "./test-support/local-spec.js";

function specWithPorts(name: string, ports: number[]): LabSpec {
  return localSpecOnPorts(name, ports, {
    providerOptions: { verifyRequests: 20 },
    // A short final bench: the numbers are not asserted here, only that the step ran (bench-step tests do).
    bench: { durationMs: 1_000, connections: 2 },
  });
}

async function recordedProcesses(stateDir: string, spec: LabSpec): Promise<ResourceRecord[]> {
  const store = new LabStateStore(stateDir);
  await store.load();
  return store.snapshot(spec.name, "local").resources.filter((r) => r.kind === "process");
}

describe("local provider end to end (real python3 apps, real HAProxy)", () => {
  let root: string;
  let stateDir: string;
  let spec: LabSpec;
  let ports: number[];
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "labgate-local-e2e-"));
    stateDir = join(root, "lab");
    ports = await freePorts(4);
    spec = specWithPorts("e2e", ports);
  });

  afterAll(async () => {
    // Whatever happened above, leave no process behind.
    for (const r of await recordedProcesses(stateDir, spec).catch(() => [])) {
      const pid = r.data?.["pid"];
      if (typeof pid === "number" && (await isRunning(pid))) process.kill(pid, "SIGKILL");
    }
    await rm(root, { recursive: true, force: true });
  });

  it("plans preflight, address, both apps, HAProxy and the round-robin check", () => {
    expect(describePlan(localProvider, spec).steps.map((s) => s.id)).toEqual([
      "preflight",
      "allocate-address",
      "start-app1",
      "start-app2",
      "start-haproxy",
      "verify-round-robin",
      "bench",
    ]);
    expect(localProvider.endpoint?.(spec)).toBe(`http://127.0.0.1:${ports[2]}/`);
  });

  it("up: starts the apps and HAProxy; the LB answers with X-Served-By", async () => {
    const result = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(result.changed).toBe(true);
    expect(result.complete).toBe(true);
    expect(result.steps.map((s) => s.outcome)).toEqual(Array(7).fill("applied"));
    expect(logs.join("\n")).toMatch(/^sequence: ((app1|app2) ){19}(app1|app2)$/m);
    const procs = await recordedProcesses(stateDir, spec);
    expect(procs.map((p) => p.id).sort()).toEqual(["app1", "app2", "lb"]);
    for (const p of procs) expect(await isRunning(p.data?.["pid"] as number)).toBe(true);
    expect(existsSync(join(stateDir, "run", "app1.pid"))).toBe(true);
    expect(existsSync(join(stateDir, "logs", "lb.log"))).toBe(true);
    const res = await httpProbe(`http://127.0.0.1:${ports[2]}/predict`, {
      method: "POST",
      body: JSON.stringify({ text: "I love how fast this is" }),
    });
    expect(res.status).toBe(200);
    expect(["app1", "app2"]).toContain(headerValue(res, "x-served-by"));
    expect(JSON.parse(res.body).label).toBe("positive");
    const stats = await httpProbe(`http://127.0.0.1:${ports[3]}/stats;csv`);
    expect(stats.body).toMatch(/app1/);
    if ((await detectHaproxy()).prometheus) {
      const metrics = await httpProbe(`http://127.0.0.1:${ports[3]}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^haproxy_server_status\{proxy="e2e_apps",server="app1"/m);
    }
  });

  it("verify: every request carries the header and the split is even", async () => {
    const result = await labVerify({ provider: localProvider, spec, stateDir, verify: { requests: 20 } });
    expect(result.passed).toBe(true);
    const report = result.data as { counts: Record<string, number>; sequence: string[] };
    expect(report.counts).toEqual({ app1: 10, app2: 10 });
    expect(report.sequence).toHaveLength(20);
    expect(new Set(report.sequence.slice(0, 2))).toEqual(new Set(["app1", "app2"]));
  });

  it("a second up changes nothing", async () => {
    const before = (await recordedProcesses(stateDir, spec)).map((p) => p.data?.["pid"]);
    const result = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(result.changed).toBe(false);
    expect(result.steps.every((s) => s.outcome === "already-done")).toBe(true);
    expect((await recordedProcesses(stateDir, spec)).map((p) => p.data?.["pid"])).toEqual(before);
  });

  it("status shows each process healthy", async () => {
    const status = await labStatus({ provider: localProvider, spec, stateDir });
    expect(status.healthy, JSON.stringify(status.resources)).toBe(true);
    const procs = status.resources.filter((r) => r.kind === "process");
    expect(procs.map((r) => r.health)).toEqual(["healthy", "healthy", "healthy"]);
    expect(status.resources.find((r) => r.id === "verify-round-robin")).toMatchObject({
      health: "healthy",
      // The verify step's own live check is the verdict; both served (the LB probe may take one turn).
      detail: expect.stringMatching(
        /finds it in place: round robin OK: (?=.*app1)(?=.*app2)(app1|app2)( (app1|app2)){3}$/,
      ),
    });
  });

  it("a killed app is named by verify, and the next up restarts only it", async () => {
    const app1 = (await recordedProcesses(stateDir, spec)).find((p) => p.id === "app1");
    const pid = app1?.data?.["pid"] as number;
    process.kill(pid, "SIGKILL");
    await expect.poll(() => isRunning(pid)).toBe(false);
    const result = await labVerify({ provider: localProvider, spec, stateDir, verify: { requests: 10 } });
    expect(result.passed).toBe(false);
    expect(result.summary).toMatch(/backend app1 served none of the 10 requests/);
    expect((result.data as { notServing: string[] }).notServing).toEqual(["app1"]);

    const status = await labStatus({ provider: localProvider, spec, stateDir });
    expect(status.resources.find((r) => r.id === "app1")?.health).toBe("unhealthy");
    // The recorded round-robin pass is re-checked live, not reported healthy from the past.
    expect(status.resources.find((r) => r.id === "verify-round-robin")).toMatchObject({
      health: "unhealthy",
      detail: expect.stringMatching(
        /step verify-round-robin finds it missing or drifted: .*backend app1 served none/,
      ),
    });
    expect(status.steps.find((s) => s.id === "start-app1")?.live).toMatchObject({
      done: false,
      detail: "app1 is not running",
    });

    const up = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(up.steps.filter((s) => s.outcome === "applied").map((s) => s.id)).toEqual(["start-app1"]);
    const again = await labVerify({ provider: localProvider, spec, stateDir, verify: { requests: 20 } });
    expect(again.passed, again.summary).toBe(true);
  });

  it("refuses a port taken by another process and names it", async () => {
    const [a, b, lb, stats] = await freePorts(4);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: "127.0.0.1", port: lb }, resolve));
    const otherDir = join(root, "other");
    try {
      const other = specWithPorts("blocked", [a!, b!, lb!, stats!]);
      const error = await labUp({
        provider: localProvider,
        spec: other,
        stateDir: otherDir,
        gate: autoYesGate(),
        log,
      }).then(
        () => undefined,
        (e: unknown) => e as { stepId: string; exitCode: number; message: string; cause: { code: string } },
      );
      expect(error?.stepId).toBe("preflight");
      expect(error?.cause.code).toBe("PORT_IN_USE");
      expect(error?.exitCode).toBe(4);
      expect(error?.message).toContain(`127.0.0.1:${lb} is already in use by pid ${process.pid}`);
      expect(await canListen("127.0.0.1", a!)).toBe(true);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      await labDown({
        provider: localProvider,
        spec: specWithPorts("blocked", [a!, b!, lb!, stats!]),
        stateDir: otherDir,
        gate: autoYesGate(),
        log,
      });
    }
  });

  it("interrupted while waiting for app1: the pid is already recorded, and the next up resumes", async () => {
    const otherPorts = await freePorts(4);
    const other = specWithPorts("interrupted", otherPorts);
    const otherDir = join(root, "interrupted");
    const controller = new AbortController();
    const abortOnStart = (m: string) => {
      if (/^app1: started pid/.test(m)) controller.abort();
    };
    try {
      await expect(
        labUp({
          provider: localProvider,
          spec: other,
          stateDir: otherDir,
          gate: autoYesGate(),
          log: abortOnStart,
          signal: controller.signal,
        }),
      ).rejects.toMatchObject({ code: "INTERRUPTED" });
      const recorded = await recordedProcesses(otherDir, other);
      expect(recorded.map((r) => r.id)).toEqual(["app1"]);
      const pid = recorded[0]?.data?.["pid"] as number;
      expect(await isRunning(pid)).toBe(true);

      const resumed = await labUp({
        provider: localProvider,
        spec: other,
        stateDir: otherDir,
        gate: autoYesGate(),
        log,
      });
      const app1 = resumed.steps.find((s) => s.id === "start-app1");
      expect(app1?.outcome).toBe("already-done");
      expect(resumed.steps.filter((s) => s.outcome === "applied").map((s) => s.id)).toEqual([
        "start-app2",
        "start-haproxy",
        "verify-round-robin",
        "bench",
      ]);
      expect(resumed.steps.find((s) => s.id === "verify-round-robin")?.outcome).toBe("applied");
      expect((await recordedProcesses(otherDir, other)).find((r) => r.id === "app1")?.data?.["pid"]).toBe(
        pid,
      );
    } finally {
      const down = await labDown({
        provider: localProvider,
        spec: other,
        stateDir: otherDir,
        gate: autoYesGate(),
        log,
      });
      expect(down.complete).toBe(true);
      for (const port of otherPorts) expect(await canListen("127.0.0.1", port)).toBe(true);
    }
  });

  it("down: no process, no port held, no state left", async () => {
    const procs = await recordedProcesses(stateDir, spec);
    const result = await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(result.complete).toBe(true);
    for (const p of procs) expect(await isRunning(p.data?.["pid"] as number)).toBe(false);
    for (const port of ports) expect(await canListen("127.0.0.1", port)).toBe(true);
    expect(existsSync(stateDir) ? await readdir(stateDir) : []).toEqual([]);
  });
});
