import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { autoYesGate, LabStateStore, labDown, labUp, loadLabSpec, localProvider } from "@labgate/lxd-lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { freePorts } from "../test-support/loopback-ports.js";

/**
 * `bench run --lab --fault` on the real local lab (python3 apps, HAProxy): the fault is applied and
 * undone on the bench's clock, recorded in the result, and every backend is back afterwards.
 */
let dir: string;
let specFile: string;
let stateDir: string;
let statsPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lgt-bench-faults-"));
  const [a, b, lb, stats] = await freePorts(4);
  statsPort = stats as number;
  specFile = join(dir, "lab.json");
  stateDir = join(dir, "state");
  await writeFile(
    specFile,
    JSON.stringify({
      name: "bench-faults",
      apps: { ports: [a, b] },
      lb: { port: lb, statsPort: stats },
      bench: { enabled: false },
    }),
  );
  const { spec } = await loadLabSpec(specFile, dir);
  const up = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} });
  expect(up.complete).toBe(true);
}, 120_000);

afterAll(async () => {
  const { spec } = await loadLabSpec(specFile, dir);
  await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} }).catch(
    () => {},
  );
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** The stats CSV's status column per app: "UP", "DOWN", "DRAIN" while drained, "UP 1/2" while failing. */
async function serverStatuses(): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`);
  return (await res.text())
    .split("\n")
    .filter((l) => /^bench-faults_apps,app\d,/.test(l))
    .map((l) => l.split(",")[17] ?? "");
}

describe("labgate bench run --lab --fault", () => {
  it("refuses --fault without --lab, bad faults and faults past the run with exit 2, before any request", async () => {
    const noLab = await cli([
      "bench",
      "run",
      "--url",
      "http://127.0.0.1:1/",
      "--fault",
      "stop app2 at 1s for 1s",
    ]);
    expect(noLab.code).toBe(ExitCode.INVALID_INPUT);
    expect(noLab.stderr).toMatch(/--fault needs --lab/);
    const bad = await cli([
      "bench",
      "run",
      "--lab",
      specFile,
      "--state-dir",
      stateDir,
      "--fault",
      "reboot app2 at 1s for 1s",
    ]);
    expect(bad.code).toBe(ExitCode.INVALID_INPUT);
    expect(bad.stderr).toMatch(/unknown action 'reboot'/);
    const late = await cli([
      "bench",
      "run",
      "--lab",
      specFile,
      "--state-dir",
      stateDir,
      "-d",
      "2s",
      "--fault",
      "stop app2 at 1s for 5s",
    ]);
    expect(late.code).toBe(ExitCode.INVALID_INPUT);
    expect(late.stderr).toMatch(/after the run ends/);
    const unknown = await cli([
      "bench",
      "run",
      "--lab",
      specFile,
      "--state-dir",
      stateDir,
      "-d",
      "2s",
      "--fault",
      "stop app7 at 1s for 1s",
      "--yes",
    ]);
    expect(unknown.code).toBe(ExitCode.INVALID_INPUT);
    expect(unknown.stderr).toMatch(/has no backend app7/);
    // A check may fail now and then on a loaded machine ("UP 1/2"); nothing here may take a server down.
    await expect.poll(serverStatuses, { timeout: 10_000 }).toEqual(["UP", "UP"]);
  }, 60_000);

  it("without --yes and without a terminal, the faults are refused (exit 7) and nothing is touched", async () => {
    const r = await cli([
      "bench",
      "run",
      "--lab",
      specFile,
      "--state-dir",
      stateDir,
      "-d",
      "2s",
      "--fault",
      "stop app2 at 0s for 1s",
    ]);
    expect(r.code).toBe(ExitCode.NOT_CONFIRMED);
    expect(r.stderr).toMatch(/Inject 1 fault into lab "bench-faults"/);
    expect(r.stderr).not.toMatch(/Measuring/);
  }, 60_000);

  it("stop app2 at 1s for 2s: measured against the lab's LB, recorded in the result, app2 back afterwards", async () => {
    const store = new LabStateStore(stateDir);
    await store.load();
    const pidBefore = store.snapshot("bench-faults", "local").resources.find((r) => r.id === "app2")?.data?.[
      "pid"
    ];
    const r = await cli([
      "bench",
      "run",
      "--lab",
      specFile,
      "--state-dir",
      stateDir,
      "-c",
      "2",
      "-d",
      "4s",
      "--fault",
      "stop app2 at 1s for 2s",
      "--yes",
      "--json",
      "--no-progress",
      "--slo",
      "fault_errors<=1000000",
      "--slo",
      "fault_p99<600s",
      "--slo",
      "detection<=2s",
    ]);
    expect([ExitCode.OK, ExitCode.CHECK_FAILED], r.stderr).toContain(r.code);
    const result = JSON.parse(r.stdout) as {
      options: { url: string };
      requests: { responses: number };
      faults: { fault: string; appliedAtMs: number; undoneAtMs: number; undoReason: string; error: null }[];
    };
    expect(result.options.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(result.requests.responses).toBeGreaterThan(20);
    expect(result.faults).toHaveLength(1);
    const f = result.faults[0]!;
    expect(f).toMatchObject({ fault: "stop app2 at 1s for 2s", undoReason: "window-end", error: null });
    expect(f.appliedAtMs).toBeGreaterThanOrEqual(1_000);
    expect(f.undoneAtMs).toBeGreaterThanOrEqual(3_000);
    expect(r.stderr).toMatch(/fault stop app2 from 1s to 3s: applied/);
    // The window's figures: measured inside it and against the second before it.
    expect(r.stderr).toMatch(/^fault\s+window\s+errors\s+p50 in\/before\s+p99 in\/before/m);
    const w = (result as unknown as { faultWindows: Record<string, unknown>[] }).faultWindows;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ label: "stop app2 at 1s for 2s", resolutionMs: 1_000 });
    expect(w[0]?.["responses"]).toBeGreaterThan(0);
    expect(w[0]?.["baselineP99Us"]).toBeGreaterThan(0);
    // The fault SLOs are judged on those windows (not "no fault ran").
    const slos = (result as unknown as { slos: { metric: string; actual: number | null; pass: boolean }[] })
      .slos;
    expect(slos.map((v) => v.metric)).toEqual(["fault_errors", "fault_p99", "detection"]);
    expect(slos.map((v) => v.actual === null)).toEqual([false, false, false]);
    expect(slos.slice(0, 2).map((v) => v.pass)).toEqual([true, true]);
    await store.load();
    const pidAfter = store.snapshot("bench-faults", "local").resources.find((r) => r.id === "app2")?.data?.[
      "pid"
    ];
    expect(pidAfter).not.toBe(pidBefore);
    await expect.poll(serverStatuses, { timeout: 10_000 }).toEqual(["UP", "UP"]);
  }, 90_000);

  it("Ctrl-C mid-fault: the run stops, app2 is resumed and app1 is ready again before the command returns", async () => {
    const store = new LabStateStore(stateDir);
    await store.load();
    const app2Pid = store.snapshot("bench-faults", "local").resources.find((r) => r.id === "app2")?.data?.[
      "pid"
    ] as number;
    const run = cli([
      "bench",
      "run",
      "--lab",
      specFile,
      "--state-dir",
      stateDir,
      "-c",
      "2",
      "-d",
      "60s",
      "--fault",
      "pause app2 at 500ms for 50s",
      "--fault",
      "drain app1 at 500ms for 50s",
      "--yes",
      "--json",
      "--no-progress",
    ]);
    const paused = async () => (await readFile(`/proc/${app2Pid}/stat`, "utf8")).split(") ")[1]?.[0];
    await expect.poll(paused, { timeout: 20_000, interval: 50 }).toBe("T");
    await expect.poll(serverStatuses, { timeout: 5_000, interval: 50 }).toContain("DRAIN");
    // What the terminal sends on Ctrl-C, delivered to the command's own handler.
    process.emit("SIGINT");
    const r = await run;
    expect(r.code, r.stderr).toBe(ExitCode.INTERRUPTED);
    expect(await paused()).not.toBe("T");
    const result = JSON.parse(r.stdout) as { aborted: boolean; faults: { undoReason: string }[] };
    expect(result.aborted).toBe(true);
    expect(result.faults.map((f) => f.undoReason)).toEqual(["interrupted", "interrupted"]);
    await expect.poll(serverStatuses, { timeout: 10_000 }).toEqual(["UP", "UP"]);
  }, 90_000);
});
