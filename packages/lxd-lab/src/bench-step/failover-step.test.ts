import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../engine/gate.js";
import { LabStateStore } from "../engine/lab-state.js";
import { labStatus } from "../engine/lab-status.js";
import { describePlan } from "../engine/plan-view.js";
import { labDown, labUp } from "../engine/run-lab.js";
import { fetchHaproxyServerStatus } from "../haproxy/stats-csv.js";
import { localOptions } from "../providers/local/local-lab.js";
import { isRunning } from "../providers/local/local-process.js";
import { localProvider } from "../providers/local/local-provider.js";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { parseLabSpec } from "../spec/parse-lab-spec.js";
import { freePorts } from "../test-support/free-ports.js";
import { FAILOVER_STEP_ID, type LabFailoverRecord } from "./failover-step.js";
import { labFingerprintFromState } from "./lab-fingerprint.js";
import { assertFaultActionsSupported } from "./provider-fault-actions.js";
import { withBenchStep } from "./with-bench-step.js";

/** The local provider as `lab up` gets it from the registry: with the bench and failover steps. */
const provider = withBenchStep(localProvider);

async function failoverRecord(stateDir: string, spec: LabSpec): Promise<LabFailoverRecord | undefined> {
  const store = new LabStateStore(stateDir);
  await store.load();
  return store.snapshot(spec.name, "local").resources.find((r) => r.kind === "failover")?.data as
    | LabFailoverRecord
    | undefined;
}

describe("failover step: planned only with faults:, refused at plan time when the provider cannot do a fault", () => {
  it("no faults: no failover step; faults: the lab ends with it, after the bench, naming faults and timing", () => {
    expect(describePlan(provider, parseLabSpec({}, "lab.yaml")).steps.map((s) => s.id)).not.toContain(
      FAILOVER_STEP_ID,
    );
    const spec = parseLabSpec(
      {
        faults: ["stop app2 at 1s for 2s"],
        lb: { healthCheck: { interval: "200ms", fall: 1 } },
        bench: { duration: "5s" },
        slos: ["errors<5%", "recovery<3s"],
      },
      "lab.yaml",
    );
    const steps = describePlan(provider, spec).steps;
    expect(steps.slice(-2).map((s) => s.id)).toEqual(["bench", FAILOVER_STEP_ID]);
    const failover = steps.at(-1);
    expect(failover?.title).toContain("while stop app2 from 1s to 3s");
    expect(failover?.why).toContain("inter 200ms fall 1 rise 1");
    expect(failover?.why).toContain("expected detection is about 200 ms");
    expect(failover?.commands[0]).toContain("--fault 'stop app2 at 1s for 2s'");
    expect(failover?.commands[0]).toContain("--slo 'recovery<3s'");
    // The plain bench step does not judge fault metrics: no fault runs in it.
    expect(steps.at(-2)?.title).toContain("against the SLOs (errors<5%)");
  });

  it("delay on a local lab without network namespaces is refused while planning, naming the action (exit 4)", () => {
    const spec = parseLabSpec(
      { faults: ["stop app1 at 1s for 1s", "delay 200ms app2 at 1s for 2s"] },
      "lab.yaml",
    );
    expect(() => describePlan(provider, spec)).toThrow(
      "The failover step cannot delay on this local lab ('delay 200ms app2 at 1s for 2s' in faults:)",
    );
    try {
      describePlan(provider, spec);
    } catch (error) {
      expect(error).toMatchObject({ code: "FAULT_UNSUPPORTED", exitCode: 4, details: { action: "delay" } });
    }
    const onOne = parseLabSpec(
      {
        provider: "opennebula",
        network: { cidr: "10.20.0.0/24" },
        faults: ["stop app2 at 1s for 1s", "drain app1 at 1s for 1s"],
      },
      "lab.yaml",
    );
    expect(() => assertFaultActionsSupported(onOne, onOne.faults ?? [])).toThrow(
      "The failover step cannot drain on this opennebula lab ('drain app1 at 1s for 1s' in faults:): the opennebula provider can only stop, kill, pause.",
    );
    expect(() => assertFaultActionsSupported(onOne, ["pause app1 at 1s for 1s"])).not.toThrow();
    // With host access, drain and delay run inside the containers through the host.
    const withHost = { ...onOne, providerOptions: { hostAccess: "local" } };
    expect(() => assertFaultActionsSupported(withHost, ["drain app1 at 1s for 1s"])).not.toThrow();
    // The options are read by the provider's own reader: a wrongly typed one is refused as the provider
    // refuses it, never taken for "no host access" or "no namespaces".
    const unclear = { ...onOne, providerOptions: { hostAccess: "locally" } };
    expect(() => assertFaultActionsSupported(unclear, ["stop app1 at 1s for 1s"])).toThrow(
      expect.objectContaining({ code: "ONE_OPTION_INVALID" }),
    );
    const local = parseLabSpec({ faults: ["delay 50ms app1 at 1s for 1s"] }, "lab.yaml");
    const typo = { ...local, providerOptions: { netns: "yes" } };
    const refused = (() => {
      try {
        localOptions(typo);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toMatchObject({ exitCode: 2 });
    expect(() => assertFaultActionsSupported(typo, local.faults ?? [])).toThrow(
      expect.objectContaining({ code: (refused as { code: string }).code }),
    );
  });
});

describe("failover step on the real local lab (python3 apps, HAProxy)", () => {
  let root: string;
  let stateDir: string;
  let spec: LabSpec;
  let statsUrl: string;
  let slowDownAfterMs: number;
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const serversUp = async () =>
    (await fetchHaproxyServerStatus(statsUrl)).map((s) => `${s.server} ${s.status}`).sort();

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "lgt-failover-"));
    stateDir = join(root, "lab");
    const [a, b, lb, stats] = await freePorts(4);
    const base = defaultLabSpec();
    statsUrl = `http://127.0.0.1:${stats}/stats;csv`;
    spec = {
      ...base,
      name: "lgt-failover",
      apps: { ...base.apps, ports: [a as number, b as number] },
      lb: { ...base.lb, port: lb as number, statsPort: stats as number },
      providerOptions: { verifyRequests: 10 },
      slos: ["errors<20%", "fault_errors<50%"],
      bench: { durationMs: 6_000, connections: 4 },
      faults: ["stop app2 at 1s for 2s"],
    };
  }, 30_000);

  afterAll(async () => {
    await labDown({ provider, spec, stateDir, gate: autoYesGate(), log }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  it("up ends with the failover check: faults applied and undone, windows measured, verdict and report in the state", async () => {
    const up = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
    expect(up.steps.slice(-2).map((s) => [s.id, s.outcome])).toEqual([
      ["bench", "applied"],
      [FAILOVER_STEP_ID, "applied"],
    ]);
    const out = logs.join("\n");
    // On the run's clock: the 1 s warm-up comes first.
    expect(out).toMatch(/fault applied at \d+ ms: stop app2 from 2s to 4s/);
    expect(out).toMatch(/fault undone \(window-end\) at \d+ ms: stop app2/);
    expect(out).toMatch(
      /expected detection for 'stop app2 at 1s for 2s': 2\.00s \(inter 1s fall 2 rise 1: inter × fall\); HAProxy marked app2 DOWN after \d\.\d\ds: as expected/,
    );
    const record = await failoverRecord(stateDir, spec);
    expect(record).toMatchObject({
      status: "done",
      faults: ["stop app2 at 1s for 2s"],
      healthCheck: "inter 1s fall 2 rise 1",
      url: `http://127.0.0.1:${spec.lb.port}/predict`,
    });
    expect(record?.slos?.map((s) => s.expression)).toEqual(["errors<20%", "fault_errors<50%"]);
    expect(record?.windows).toHaveLength(1);
    expect(record?.windows?.[0]).toMatchObject({
      fault: "stop app2 at 1s for 2s",
      expectedDetectionMs: 2_000,
    });
    // HAProxy (inter 1 s, fall 2) takes app2 out between one and two intervals after the stop, plus the 50 ms poll.
    slowDownAfterMs = record?.windows?.[0]?.lbDownAfterMs ?? Number.NaN;
    expect(slowDownAfterMs).toBeGreaterThanOrEqual(900);
    expect(slowDownAfterMs).toBeLessThanOrEqual(3_200);
    const result = JSON.parse(await readFile(record?.reports?.resultJson ?? "", "utf8")) as {
      faults: { fault: string; undoReason: string; expectedDetectionMs: number; lbDownAfterMs: number }[];
      faultWindows: unknown[];
      environment: { lab: unknown };
    };
    // The failover run says which lab it measured, as the bench step's does.
    expect(result.environment.lab).toEqual(await labFingerprintFromState({ spec, provider, stateDir }));
    expect(result.environment.lab).toMatchObject({
      provider: "local",
      haproxyConfigSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(result.faults).toMatchObject([
      {
        fault: "stop app2 at 1s for 2s",
        undoReason: "window-end",
        expectedDetectionMs: 2_000,
        lbDownAfterMs: slowDownAfterMs,
      },
    ]);
    expect(result.faultWindows).toHaveLength(1);
    // Nothing is left faulted: app2 runs again and HAProxy has both servers UP.
    const store = new LabStateStore(stateDir);
    await store.load();
    const app2 = store
      .snapshot(spec.name, "local")
      .resources.find((r) => r.kind === "process" && r.id === "app2");
    expect(await isRunning(app2?.data?.["pid"] as number)).toBe(true);
    await expect.poll(serversUp, { timeout: 10_000 }).toEqual(["app1 UP", "app2 UP"]);
  }, 180_000);

  it("status shows the last failover verdict; a second up keeps it (already done)", async () => {
    const status = await labStatus({ provider, spec, stateDir });
    const failover = status.resources.find((r) => r.kind === "failover");
    expect(failover?.health).toBe("healthy");
    expect(failover?.detail).toMatch(
      /^under stop app2 at 1s for 2s \(inter 1s fall 2 rise 1\) \[stop app2 at 1s for 2s: errors \d+, last error [-\d.s]+, HAProxy DOWN after \d\.\ds \(expected 2\.0s\), recovery [-\d.s]+\]: SLOs met/,
    );
    const again = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
    expect(again.steps.at(-1)).toMatchObject({ id: FAILOVER_STEP_ID, outcome: "already-done" });
  }, 120_000);

  it("a missed fault SLO fails the step with exit 1 and status says so; the backends are still all UP", async () => {
    const strict: LabSpec = { ...spec, slos: [...spec.slos, "fault_p99<1us"] };
    const error = await labUp({ provider, spec: strict, stateDir, gate: autoYesGate(), log }).then(
      () => undefined,
      (e: unknown) => e as { exitCode: number; message: string; stepId: string; cause: { code: string } },
    );
    expect(error?.stepId).toBe(FAILOVER_STEP_ID);
    expect(error?.exitCode).toBe(1);
    expect(error?.cause.code).toBe("LAB_SLOS_NOT_MET");
    expect(error?.message).toMatch(/under faults \(stop app2 at 1s for 2s\): (.*, )?fault_p99<1us observed /);
    const status = await labStatus({ provider, spec: strict, stateDir });
    expect(status.resources.find((r) => r.kind === "failover")).toMatchObject({
      health: "unhealthy",
      detail: expect.stringMatching(/SLOs MISSED \((.*, )?fault_p99<1us observed /),
    });
    await expect.poll(serversUp, { timeout: 10_000 }).toEqual(["app1 UP", "app2 UP"]);
  }, 180_000);

  it("lb.healthCheck inter 200ms fall 1: the running LB is seen as drifted and reloaded, and HAProxy takes app2 out sooner", async () => {
    const fast: LabSpec = { ...spec, lb: { ...spec.lb, healthCheck: { intervalMs: 200, fall: 1, rise: 1 } } };
    logs.length = 0;
    const up = await labUp({ provider, spec: fast, stateDir, gate: autoYesGate(), log });
    const outcome = (id: string) => up.steps.find((s) => s.id === id)?.outcome;
    // The drift check compares the running HAProxy with the config the spec renders: new timing, new config.
    expect(outcome("start-haproxy")).toBe("applied");
    expect(logs.join("\n")).toMatch(
      /check inter 1000ms fall 2 rise 1` \(want `server app1 127\.0\.0\.1:\d+ check inter 200ms fall 1 rise 1`\)/,
    );
    expect(outcome(FAILOVER_STEP_ID)).toBe("applied");
    const record = await failoverRecord(stateDir, fast);
    expect(record?.healthCheck).toBe("inter 200ms fall 1 rise 1");
    expect(record?.windows?.[0]?.expectedDetectionMs).toBe(200);
    const fastDownAfterMs = record?.windows?.[0]?.lbDownAfterMs ?? Number.NaN;
    expect(fastDownAfterMs).toBeLessThanOrEqual(200 + 200 + 400);
    expect(fastDownAfterMs).toBeLessThan(slowDownAfterMs);
    await expect.poll(serversUp, { timeout: 10_000 }).toEqual(["app1 UP", "app2 UP"]);
    spec = fast;
  }, 180_000);

  it("Ctrl-C mid-fault: lab up stops, app2 is resumed and app1 ready again before it returns", async () => {
    const held: LabSpec = { ...spec, faults: ["pause app2 at 500ms for 4s", "drain app1 at 500ms for 4s"] };
    const store = new LabStateStore(stateDir);
    await store.load();
    const app2Pid = store
      .snapshot(spec.name, "local")
      .resources.find((r) => r.kind === "process" && r.id === "app2")?.data?.["pid"] as number;
    const ac = new AbortController();
    const up = labUp({ provider, spec: held, stateDir, gate: autoYesGate(), log, signal: ac.signal }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    const paused = async () => (await readFile(`/proc/${app2Pid}/stat`, "utf8")).split(") ")[1]?.[0];
    await expect.poll(paused, { timeout: 60_000, interval: 50 }).toBe("T");
    await expect.poll(serversUp, { timeout: 5_000, interval: 50 }).toContain("app1 DRAIN");
    ac.abort();
    const error = await up;
    expect(error).toBeInstanceOf(Error);
    // Undone before labUp returned: no wait, no retry.
    expect(await paused()).not.toBe("T");
    expect((await serversUp()).filter((s) => s.includes("DRAIN") || s.includes("MAINT"))).toEqual([]);
    expect(await failoverRecord(stateDir, held)).toMatchObject({ aborted: true });
    const status = await labStatus({ provider, spec: held, stateDir });
    expect(status.resources.find((r) => r.kind === "failover")).toMatchObject({
      health: "unknown",
      detail: expect.stringMatching(
        /^INTERRUPTED \(not a verdict\) under pause app2 at 500ms for 4s; drain app1/,
      ),
    });
    await expect.poll(serversUp, { timeout: 10_000 }).toEqual(["app1 UP", "app2 UP"]);
  }, 180_000);

  it("down removes the failover report and nothing of the lab is left", async () => {
    const record = await failoverRecord(stateDir, spec);
    expect(existsSync(record?.reportDir ?? "")).toBe(true);
    await labDown({ provider, spec, stateDir, gate: autoYesGate(), log });
    expect(existsSync(record?.reportDir ?? "")).toBe(false);
    expect(existsSync(join(stateDir, "reports"))).toBe(false);
  }, 60_000);
});
