import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../engine/gate.js";
import { LabStateStore } from "../engine/lab-state.js";
import { labDown, labUp } from "../engine/run-lab.js";
import type { StepContext } from "../engine/step.js";
import { createStepContext } from "../engine/step-context.js";
import { haproxyBackendName } from "../haproxy/render-config.js";
import { fetchHaproxyServerStatus } from "../haproxy/stats-csv.js";
import { localStatsSocket } from "../providers/local/lb-step.js";
import { isRunning, waitFor } from "../providers/local/local-process.js";
import { localProvider } from "../providers/local/local-provider.js";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { freePorts } from "../test-support/free-ports.js";
import { runFaults } from "./fault-runner.js";
import { parseFaults } from "./fault-spec.js";
import { haproxyServerState } from "./haproxy-runtime.js";
import { localFaultActuator } from "./local-faults.js";

/** One answer seen by the load loop, on the fault runner's clock. */
interface Sample {
  atMs: number;
  ok: boolean;
  servedBy?: string;
}

/**
 * A steady closed-loop load (a few keep-alive connections) through the lab's LB; returns every
 * answer with its time so the test can place errors and backends relative to the fault window.
 */
function startLoad(url: string, connections: number, t0: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const samples: Sample[] = [];
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request(url, { agent, timeout: 5_000 }, (res) => {
        res.resume();
        res.on("end", () => {
          const servedBy = res.headers["x-served-by"];
          samples.push({
            atMs: performance.now() - t0,
            ok: res.statusCode === 200,
            ...(typeof servedBy === "string" ? { servedBy } : {}),
          });
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        samples.push({ atMs: performance.now() - t0, ok: false });
        resolve();
      });
      req.end();
    });
  const loops = Array.from({ length: connections }, async () => {
    while (running) {
      await one();
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

describe("faults on the real local lab (python3 apps, HAProxy with its default checks)", () => {
  let root: string;
  let stateDir: string;
  let spec: LabSpec;
  let ctx: StepContext;
  let statsUrl: string;
  let lbUrl: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "lgt-faults-"));
    stateDir = join(root, "lab");
    const [a, b, lb, stats] = await freePorts(4);
    const base = defaultLabSpec();
    spec = {
      ...base,
      name: "faults",
      apps: { ...base.apps, ports: [a as number, b as number] },
      lb: { ...base.lb, port: lb as number, statsPort: stats as number },
      providerOptions: { verifyRequests: 10 },
      bench: { durationMs: 500, connections: 1 },
    };
    const up = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} });
    expect(up.complete).toBe(true);
    const store = new LabStateStore(stateDir);
    await store.load();
    ctx = createStepContext(store, spec, localProvider, () => {}, new AbortController().signal);
    statsUrl = `http://127.0.0.1:${stats}/stats;csv`;
    lbUrl = `http://127.0.0.1:${lb}/`;
  }, 120_000);

  afterAll(async () => {
    await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} }).catch(
      () => {},
    );
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  const app2Status = async () =>
    (await fetchHaproxyServerStatus(statsUrl)).find((s) => s.server === "app2")?.status ?? "";
  const bothUp = () =>
    waitFor(
      async () => (await fetchHaproxyServerStatus(statsUrl)).every((s) => s.status.startsWith("UP")),
      10_000,
    );

  it("stop app2: HAProxy marks it down after ≈ inter × fall, errors stay inside the window, app2 serves again after", async () => {
    const t0 = performance.now();
    const load = startLoad(lbUrl, 4, t0);
    let downAtMs: number | undefined;
    const watch = (async () => {
      while (downAtMs === undefined && performance.now() - t0 < 8_000) {
        if ((await app2Status()).startsWith("DOWN")) downAtMs = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const result = await runFaults(parseFaults(["stop app2 at 1s for 4s"]), localFaultActuator(ctx), {
      now: () => performance.now() - t0,
    });
    await watch;
    expect(await bothUp()).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));
    await load.stop();

    const tl = result.timelines[0]!;
    const stoppedAt = tl.activeAtMs!;
    // Default checks: inter 1000 ms, fall 2 → down 2 s after the stop, within one interval.
    expect(downAtMs, "HAProxy never marked app2 DOWN").toBeDefined();
    expect(downAtMs! - stoppedAt).toBeGreaterThanOrEqual(1_000 - 100);
    expect(downAtMs! - stoppedAt).toBeLessThanOrEqual(3_000 + 200);
    const errors = load.samples.filter((s) => !s.ok);
    for (const e of errors) {
      expect(e.atMs).toBeGreaterThanOrEqual(tl.appliedAtMs!);
      expect(e.atMs).toBeLessThanOrEqual(downAtMs! + 500);
    }
    // Nothing served by app2 between its stop and its restart; it serves again once back.
    const app2 = load.samples.filter((s) => s.servedBy === "app2");
    expect(app2.filter((s) => s.atMs > stoppedAt + 200 && s.atMs < tl.undoAtMs!)).toEqual([]);
    expect(app2.some((s) => s.atMs > tl.undoneAtMs!)).toBe(true);
    expect(load.samples.filter((s) => s.ok).length).toBeGreaterThan(50);
  }, 60_000);

  it("drain app2: zero errors, app2 takes no requests while drained, and takes them again after", async () => {
    const t0 = performance.now();
    const load = startLoad(lbUrl, 4, t0);
    const result = await runFaults(parseFaults(["drain app2 at 500ms for 2s"]), localFaultActuator(ctx), {
      now: () => performance.now() - t0,
    });
    await new Promise((r) => setTimeout(r, 800));
    await load.stop();
    const tl = result.timelines[0]!;
    expect(load.samples.filter((s) => !s.ok)).toEqual([]);
    const app2 = load.samples.filter((s) => s.servedBy === "app2");
    expect(app2.some((s) => s.atMs < tl.appliedAtMs!)).toBe(true);
    // Requests already in flight at the drain may still finish on app2.
    expect(app2.filter((s) => s.atMs > tl.activeAtMs! + 100 && s.atMs < tl.undoAtMs!)).toEqual([]);
    expect(app2.some((s) => s.atMs > tl.undoneAtMs!)).toBe(true);
  }, 60_000);

  it("maint app1: HAProxy shows it in maintenance during the window and ready after", async () => {
    const socket = localStatsSocket(stateDir) as string;
    const backend = haproxyBackendName(spec.name);
    const seen = new Set<string>();
    const run = runFaults(parseFaults(["maint app1 at 0ms for 600ms"]), localFaultActuator(ctx));
    await waitFor(
      async () => {
        const s = (await fetchHaproxyServerStatus(statsUrl)).find((x) => x.server === "app1")?.status ?? "";
        seen.add(s);
        return s === "MAINT";
      },
      3_000,
      undefined,
      20,
    );
    await run;
    expect(seen).toContain("MAINT");
    expect((await haproxyServerState(socket, backend, "app1"))?.adminState).toBe(0);
    expect(await bothUp()).toBe(true);
  }, 30_000);

  it("Ctrl-C mid-fault: the drained app is ready again and the killed one runs and is UP", async () => {
    const socket = localStatsSocket(stateDir) as string;
    const backend = haproxyBackendName(spec.name);
    const ac = new AbortController();
    // As in the CLI, one signal is both the run's Ctrl-C and the lab context's: the restart must outlive it.
    const store = new LabStateStore(stateDir);
    await store.load();
    const interrupted = createStepContext(store, spec, localProvider, () => {}, ac.signal);
    const app2Pid = () =>
      interrupted.resources("process").find((r) => r.id === "app2")?.data?.["pid"] as number;
    const killed = app2Pid();
    const run = runFaults(
      parseFaults(["drain app1 at 0ms for 60s", "kill app2 at 0ms for 60s"]),
      localFaultActuator(interrupted),
      {
        signal: ac.signal,
      },
    );
    expect(
      await waitFor(
        async () =>
          !(await isRunning(killed)) && (await haproxyServerState(socket, backend, "app1"))?.adminState === 8,
        10_000,
      ),
    ).toBe(true);
    ac.abort();
    const result = await run;
    expect(result.interrupted).toBe(true);
    expect(result.timelines.map((t) => t.undoReason)).toEqual(["interrupted", "interrupted"]);
    expect((await haproxyServerState(socket, backend, "app1"))?.adminState).toBe(0);
    expect(app2Pid()).not.toBe(killed);
    expect(await isRunning(app2Pid())).toBe(true);
    expect(await bothUp()).toBe(true);
  }, 60_000);

  it("refuses unknown targets (exit 2) and delay on a lab without namespaces (exit 4) before anything runs", async () => {
    const actuator = localFaultActuator(ctx);
    await expect(runFaults(parseFaults(["stop app9 at 0ms for 1s"]), actuator)).rejects.toMatchObject({
      code: "FAULT_TARGET_UNKNOWN",
      exitCode: 2,
    });
    const refusal = runFaults(parseFaults(["delay 200ms app2 at 0ms for 1s"]), actuator);
    await expect(refusal).rejects.toMatchObject({ code: "FAULT_NEEDS_NETNS", exitCode: 4 });
    await expect(refusal).rejects.toThrow(/providerOptions\.netns is off/);
    expect((await fetchHaproxyServerStatus(statsUrl)).every((s) => s.status.startsWith("UP"))).toBe(true);
  });
});
