import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BenchResult, compareResults } from "@labgate/bench";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../engine/gate.js";
import { LabStateStore } from "../engine/lab-state.js";
import { labStatus } from "../engine/lab-status.js";
import { describePlan } from "../engine/plan-view.js";
import { labDown, labUp } from "../engine/run-lab.js";
import { localPaths } from "../providers/local/local-lab.js";
import { localProvider } from "../providers/local/local-provider.js";
import { defaultLabSpec } from "../spec/default-lab-spec.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { parseLabSpec } from "../spec/parse-lab-spec.js";
import { freePorts } from "../test-support/free-ports.js";
import type { LabBenchRecord } from "./bench-record.js";
import { benchHealth, describeBench, lastBench } from "./bench-step.js";
import { labFingerprintFromState, labTopology } from "./lab-fingerprint.js";

async function benchRecord(stateDir: string, spec: LabSpec): Promise<LabBenchRecord | undefined> {
  const store = new LabStateStore(stateDir);
  await store.load();
  return store.snapshot(spec.name, "local").resources.find((r) => r.kind === "bench")?.data as
    | LabBenchRecord
    | undefined;
}

describe("bench step: the plan says what it will send", () => {
  it("shows URL, load, SLOs and the equivalent `labgate bench` command; rate switches to constant rate", () => {
    const spec = parseLabSpec(
      { slos: ["p99<250ms", "errors<1%"], bench: { duration: "3s", connections: 4, rate: 50 } },
      "lab.yaml",
    );
    const step = describePlan(localProvider, spec).steps.at(-1);
    expect(step?.id).toBe("bench");
    expect(step?.title).toBe(
      "Benchmark http://127.0.0.1:8080/predict for 3 s at 50 req/s (constant rate, up to 4 connections) against the SLOs (p99<250ms, errors<1%)",
    );
    expect(step?.commands[0]).toContain(
      "labgate bench http://127.0.0.1:8080/predict -X POST -H 'Content-Type: application/json'",
    );
    expect(step?.commands[0]).toContain("-d 3s -c 4 --rate 50 --slo 'p99<250ms' --slo 'errors<1%'");
  });

  it("`bench: {enabled: false}` leaves it out", () => {
    const spec = parseLabSpec({ bench: { enabled: false } }, "lab.yaml");
    expect(describePlan(localProvider, spec).steps.map((s) => s.id)).not.toContain("bench");
  });
});

describe("bench step: what status says of the last run", () => {
  const base: LabBenchRecord = {
    status: "done",
    settingsKey: "k",
    url: "http://127.0.0.1:8080/predict",
    load: "5 s, 10 connections (closed loop)",
    startedAt: "2026-12-06T22:00:00.000Z",
    finishedAt: "2026-12-06T22:00:05.000Z",
    reportDir: "/tmp/r",
    slos: [{ expression: "p99<250ms", pass: true, observed: "12 ms" }],
    slosPassed: true,
    summary: {
      requests: 10,
      ok: 10,
      errorRatePct: 0,
      rps: 2,
      p50Ms: 5,
      p99Ms: 12,
      statusCodes: { "200": 10 },
    },
  };

  it("reads the record through its typed reader: a hand-edited status or report path is STATE_CORRUPT", () => {
    const ctx = (data: Record<string, unknown>) => ({
      resources: (kind?: string) =>
        kind === undefined || kind === "bench" ? [{ kind: "bench", id: "last", stepId: "bench", data }] : [],
    });
    const record = {
      ...base,
      reports: { resultJson: "/tmp/r/a.json", reportMd: "/tmp/r/a.md", reportHtml: "/tmp/r/a.html" },
    };
    expect(lastBench(ctx({ ...record }))).toEqual(record);
    expect(benchHealth(ctx({ ...record }))[0]?.health).toBe("healthy");
    expect(() => lastBench(ctx({ ...record, status: "finished" }))).toThrow(
      expect.objectContaining({
        code: "STATE_CORRUPT",
        details: expect.objectContaining({ field: "status" }),
      }),
    );
    expect(() => benchHealth(ctx({ ...record, reports: { ...record.reports, reportHtml: 5 } }))).toThrow(
      expect.objectContaining({
        code: "STATE_CORRUPT",
        details: expect.objectContaining({ field: "reports.reportHtml" }),
      }),
    );
    expect(() => lastBench(ctx({ ...record, reportDir: undefined }))).toThrow(/has no reportDir/);
  });

  it("keeps the verdict of a busy generator's run but says its numbers may describe the generator", () => {
    expect(describeBench(base)).toMatch(/^SLOs met at /);
    const busy = describeBench({ ...base, untrustworthy: ["event loop lagged 68 ms at p99"] });
    expect(busy).toMatch(
      /^SLOs met \(but the load generator was not trustworthy: event loop lagged 68 ms at p99; /,
    );
  });
});

describe("bench step on the real local lab (python3 apps, HAProxy)", () => {
  let root: string;
  let stateDir: string;
  let spec: LabSpec;
  let firstResult: BenchResult | undefined;
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "labgate-bench-step-"));
    stateDir = join(root, "lab");
    const [a, b, lb, stats] = await freePorts(4);
    const base = defaultLabSpec();
    spec = {
      ...base,
      name: "benchstep",
      apps: { ...base.apps, ports: [a!, b!] },
      lb: { ...base.lb, port: lb!, statsPort: stats! },
      slos: ["errors<1%", "rps>0"],
      bench: { durationMs: 1_000, connections: 2 },
    };
  });

  afterAll(async () => {
    await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it("up ends with the bench: observed vs SLO printed, summary and report path in the state", async () => {
    const up = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(up.steps.at(-1)).toMatchObject({ id: "bench", outcome: "applied" });
    const out = logs.join("\n");
    expect(out).toMatch(/^observed vs SLO:$/m);
    expect(out).toMatch(/^ {2}PASS {2}errors<1% {2}observed 0(\.0+)?%$/m);
    expect(out).toMatch(/^ {2}PASS {2}rps>0 {2}observed [\d.]+/m);
    const record = await benchRecord(stateDir, spec);
    expect(record).toMatchObject({
      status: "done",
      slosPassed: true,
      url: `http://127.0.0.1:${spec.lb.port}/predict`,
    });
    expect(record?.summary?.ok).toBeGreaterThan(0);
    expect(record?.summary?.statusCodes).toEqual({ "200": record?.summary?.ok });
    expect(record?.reportDir.startsWith(join(stateDir, "reports", "bench-"))).toBe(true);
    const result = JSON.parse(await readFile(record?.reports?.resultJson ?? "", "utf8")) as {
      requests: { ok: number };
    };
    expect(result.requests.ok).toBe(record?.summary?.ok);
    expect(existsSync(record?.reports?.reportHtml ?? "")).toBe(true);
    // The result says which lab it measured: provider, topology and the hash of the config the LB
    // was started from (read here from the file itself); `bench run --lab` computes the same.
    firstResult = result as unknown as BenchResult;
    // The call the plan showed is the load that was sent: rebuilt here from the options the result recorded.
    const sent = firstResult.options;
    const planned = describePlan(localProvider, spec).steps.find((s) => s.id === "bench")?.commands;
    expect(planned).toEqual([
      `labgate bench ${sent.url} -X ${sent.method} -H 'Content-Type: ${sent.headers["Content-Type"]}' ` +
        `--body '<${sent.body?.bytes}-byte review>' -d ${sent.durationMs / 1000}s -c ${sent.connections}` +
        `${sent.rate === null ? "" : ` --rate ${sent.rate}`}${firstResult.slos.map((x) => ` --slo '${x.expression}'`).join("")}` +
        " --out <state>/reports/bench-<time>",
    ]);
    const config = await readFile(localPaths.haproxyConfig(stateDir), "utf8");
    const fingerprint = {
      name: "benchstep",
      provider: "local",
      topology: `1 LB (HAProxy "${spec.lb.name}" on :${spec.lb.port}) + 2 app(s) app1:${spec.apps.ports[0]}, app2:${spec.apps.ports[1]} on ${spec.network.cidr}`,
      haproxyConfigSha256: createHash("sha256").update(config).digest("hex"),
    };
    expect(firstResult.environment?.lab).toEqual(fingerprint);
    expect(labTopology(spec)).toBe(fingerprint.topology);
    expect(await labFingerprintFromState({ spec, provider: localProvider, stateDir })).toEqual(fingerprint);
  });

  it("status shows the last result; a second up keeps it (already done)", async () => {
    const status = await labStatus({ provider: localProvider, spec, stateDir });
    const bench = status.resources.find((r) => r.kind === "bench");
    expect(bench?.health).toBe("healthy");
    expect(bench?.detail).toMatch(
      /^SLOs met( \(but the load generator was not trustworthy: .*\))? at .*: p50 [\d.]+ ms, p99 [\d.]+ ms, [\d.]+ req\/s, errors 0% .*report .*report\.html$/,
    );
    const again = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(again.steps.at(-1)).toMatchObject({ id: "bench", outcome: "already-done" });
  });

  it("changed SLOs measure again; a missed SLO fails the step with exit 1, naming observed vs SLO", async () => {
    const strict: LabSpec = { ...spec, slos: ["errors<1%", "rps>=10000000"] };
    logs.length = 0;
    const error = await labUp({
      provider: localProvider,
      spec: strict,
      stateDir,
      gate: autoYesGate(),
      log,
    }).then(
      () => undefined,
      (e: unknown) => e as { exitCode: number; message: string; stepId: string; cause: { code: string } },
    );
    expect(error?.stepId).toBe("bench");
    expect(error?.exitCode).toBe(1);
    expect(error?.cause.code).toBe("LAB_SLOS_NOT_MET");
    expect(error?.message).toMatch(/does not meet its SLOs: rps>=10000000 observed [\d.]+/);
    expect(logs.join("\n")).toMatch(/^ {2}FAIL {2}rps>=10000000 {2}observed /m);
    // Two runs of the same lab: compare has nothing to say about labs or environments.
    const again = await benchRecord(stateDir, strict);
    const second = JSON.parse(await readFile(again?.reports?.resultJson ?? "", "utf8")) as BenchResult;
    expect(second.environment?.lab).toEqual(firstResult?.environment?.lab);
    expect(compareResults(firstResult!, second).warnings.join(" ")).not.toMatch(/lab|differ/);
    // The same numbers from a lab whose LB ran another config: compare says so.
    const otherLab = structuredClone(second);
    otherLab.environment!.lab!.haproxyConfigSha256 = "0".repeat(64);
    expect(compareResults(firstResult!, otherLab).warnings.join(" ")).toMatch(
      /The labs' HAProxy configurations \(sha256\) differ/,
    );
    const status = await labStatus({ provider: localProvider, spec: strict, stateDir });
    expect(status.resources.find((r) => r.kind === "bench")).toMatchObject({
      health: "unhealthy",
      detail: expect.stringMatching(/^SLOs MISSED \(rps>=10000000 observed /),
    });
  });

  it("down removes the reports it wrote and nothing else", async () => {
    const record = await benchRecord(stateDir, spec);
    const reportDir = record?.reportDir ?? "";
    expect(existsSync(reportDir)).toBe(true);
    await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(existsSync(reportDir)).toBe(false);
    expect(existsSync(join(stateDir, "reports"))).toBe(false);
  });
});

describe("bench settings in the lab spec", () => {
  it("reads duration, connections, rate, enabled", () => {
    const spec = parseLabSpec({ bench: { duration: "1m30s", connections: 3, rate: 20.5 } }, "lab.yaml");
    expect(spec.bench).toEqual({ durationMs: 90_000, connections: 3, rate: 20.5 });
    expect(parseLabSpec({ bench: { duration: 2 } }, "lab.yaml").bench).toEqual({ durationMs: 2_000 });
  });

  it.each([
    [{ bench: "5s" }, "lab.yaml: bench: must be an object"],
    [{ bench: { duration: "soon" } }, 'lab.yaml: bench.duration: "soon" is not a duration'],
    [{ bench: { duration: "200ms" } }, 'lab.yaml: bench.duration: "200ms" is outside 1s to 10m'],
    [{ bench: { duration: "2h" } }, 'lab.yaml: bench.duration: "2h" is outside 1s to 10m'],
    [{ bench: { connections: 0 } }, "lab.yaml: bench.connections: must be a whole number from 1 to 1000"],
    [{ bench: { rate: -5 } }, "lab.yaml: bench.rate: must be a number of requests per second above 0"],
    [{ bench: { enabled: "yes" } }, "lab.yaml: bench.enabled: must be true or false"],
    [{ bench: { seconds: 5 } }, "lab.yaml: bench.seconds: unknown field"],
    [{ slos: ["p99<<5ms"] }, "lab.yaml: slos[0]:"],
    [{ slos: ["latency<5ms"] }, "lab.yaml: slos[0]:"],
  ])("%j is refused: %s", (raw, message) => {
    expect(() => parseLabSpec(raw, "lab.yaml")).toThrow(message);
    try {
      parseLabSpec(raw, "lab.yaml");
    } catch (error) {
      expect((error as { exitCode: number }).exitCode).toBe(2);
    }
  });
});
