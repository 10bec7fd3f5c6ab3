import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { LabStateStore } from "@labgate/lxd-lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { downLocalLab, upLocalLab } from "../test-support/local-lab.js";
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
      // Injected by `bench run --lab` when no --fault (and no SLO file's faults:) is given.
      faults: ["drain app1 at 1s for 1s"],
    }),
  );
  await upLocalLab(specFile, dir, stateDir);
}, 120_000);

afterAll(async () => {
  await downLocalLab(specFile, dir, stateDir);
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
    // --lab: the result names the lab it measured, with the hash of the config its HAProxy was started from.
    const config = await readFile(join(stateDir, "run", "haproxy.cfg"));
    expect((result as unknown as { environment: { lab: unknown } }).environment.lab).toMatchObject({
      name: "bench-faults",
      provider: "local",
      haproxyConfigSha256: createHash("sha256").update(config).digest("hex"),
    });
    expect(result.faults).toHaveLength(1);
    const f = result.faults[0]!;
    expect(f).toMatchObject({ fault: "stop app2 at 1s for 2s", undoReason: "window-end", error: null });
    expect(f.appliedAtMs).toBeGreaterThanOrEqual(1_000);
    expect(f.undoneAtMs).toBeGreaterThanOrEqual(3_000);
    expect(r.stderr).toMatch(/fault stop app2 from 1s to 3s: applied/);
    // --fault replaced the spec's faults: (drain app1): only the stop ran, and the spec was not mentioned.
    expect(r.stderr).not.toMatch(/Faults from/);
    // Judged against the lab's health-check timing: HAProxy's own view of when app2 left the pool.
    expect(r.stderr).toMatch(
      /expected detection for 'stop app2 at 1s for 2s': 2\.00s \(inter 1s fall 2 rise 1: inter × fall\); HAProxy marked app2 DOWN after \d\.\d\ds: as expected/,
    );
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

  it("without --fault, the lab spec's faults: run, and the SLO file's faults: replace them", async () => {
    const base = ["bench", "run", "--lab", specFile, "--state-dir", stateDir, "-c", "2", "-d", "3s"];
    const fromSpec = await cli([...base, "--yes", "--json", "--no-progress"]);
    expect(fromSpec.code, fromSpec.stderr).toBe(ExitCode.OK);
    expect(fromSpec.stderr).toMatch(
      /Faults from .* \(faults:\); --fault on the command line replaces them\./,
    );
    const specRun = JSON.parse(fromSpec.stdout) as { faults: { fault: string; undoReason: string }[] };
    expect(specRun.faults).toMatchObject([{ fault: "drain app1 at 1s for 1s", undoReason: "window-end" }]);

    const sloFile = join(dir, "failover-slos.yaml");
    await writeFile(sloFile, 'slos:\n  - "fault_errors<=1000000"\nfaults:\n  - "drain app2 at 1s for 1s"\n');
    // A busy machine may make the generator untrustworthy: the verdict is still wanted here.
    const fromFile = await cli([
      ...base,
      "--slo-file",
      sloFile,
      "--allow-untrustworthy",
      "--yes",
      "--json",
      "--no-progress",
    ]);
    expect(fromFile.code, fromFile.stderr).toBe(ExitCode.OK);
    expect(fromFile.stderr).toContain(`Faults from ${sloFile} (faults:)`);
    const fileRun = JSON.parse(fromFile.stdout) as {
      faults: { fault: string }[];
      slos: { expression: string; pass: boolean }[];
    };
    expect(fileRun.faults.map((f) => f.fault)).toEqual(["drain app2 at 1s for 1s"]);
    expect(fileRun.slos).toMatchObject([{ expression: "fault_errors<=1000000", pass: true }]);
    await expect.poll(serverStatuses, { timeout: 10_000 }).toEqual(["UP", "UP"]);

    // --quiet: the same data on stdout, none of the fault progress on stderr.
    const quiet = await cli([...base, "--yes", "--json", "--quiet"]);
    expect(quiet.code, quiet.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(quiet.stdout).faults).toMatchObject([{ fault: "drain app1 at 1s for 1s" }]);
    expect(quiet.stderr).not.toMatch(/Faults from|drain app1|Inject 1 fault/);
    await expect.poll(serverStatuses, { timeout: 10_000 }).toEqual(["UP", "UP"]);
  }, 120_000);

  it("prints the fault table once: in the result text without --json, on stderr with --json", async () => {
    const base = ["bench", "run", "--lab", specFile, "--state-dir", stateDir, "-c", "2", "-d", "3s"];
    const tableHeads = (text: string) =>
      text.match(/^fault\s+window\s+errors\s+p50 in\/before/gm)?.length ?? 0;
    const human = await cli([...base, "--yes", "--no-progress", "--allow-untrustworthy"]);
    expect(human.code, human.stderr).toBe(ExitCode.OK);
    expect(human.stderr).toMatch(/fault drain app1 from 1s to 2s: applied/);
    expect(tableHeads(human.stdout), human.stdout).toBe(1);
    expect(tableHeads(human.stderr), human.stderr).toBe(0);
    const json = await cli([...base, "--yes", "--json", "--no-progress", "--allow-untrustworthy"]);
    expect(json.code, json.stderr).toBe(ExitCode.OK);
    expect(tableHeads(json.stderr), json.stderr).toBe(1);
    await expect.poll(serverStatuses, { timeout: 10_000 }).toEqual(["UP", "UP"]);
  }, 90_000);

  it("faults: of the SLO file and the spec are checked against the lab and --duration, naming the entry (exit 2)", async () => {
    const base = ["bench", "run", "--lab", specFile, "--state-dir", stateDir, "--yes"];
    const sloFile = join(dir, "bad-slos.json");
    await writeFile(sloFile, JSON.stringify({ slos: ["errors<1%"], faults: ["stop app9 at 1s for 1s"] }));
    const unknown = await cli([...base, "-d", "3s", "--slo-file", sloFile]);
    expect(unknown.code).toBe(ExitCode.INVALID_INPUT);
    expect(unknown.stderr).toContain(
      `${sloFile}: faults[0]: 'stop app9 at 1s for 1s' acts on app9, which is not one of the lab's apps (app1, app2)`,
    );
    await writeFile(sloFile, JSON.stringify({ faults: "stop app2", slos: [] }));
    const notList = await cli([...base, "-d", "3s", "--slo-file", sloFile]);
    expect(notList.code).toBe(ExitCode.INVALID_INPUT);
    expect(notList.stderr).toContain(`${sloFile}: faults: must be a list of faults`);
    const noLab = await cli(["bench", "run", "--url", "http://127.0.0.1:1/", "--slo-file", sloFile]);
    expect(noLab.code).toBe(ExitCode.INVALID_INPUT);
    expect(noLab.stderr).toContain(`${sloFile} has faults:, which need --lab`);
    // The spec's drain app1 at 1s for 1s ends at 2s: a 1 s run cannot hold it.
    const short = await cli([...base, "-d", "1s"]);
    expect(short.code).toBe(ExitCode.INVALID_INPUT);
    expect(short.stderr).toMatch(
      /faults\[0\]: 'drain app1 at 1s for 1s' ends at 2s, after the measured run ends at 1s \(--duration\)/,
    );
    expect(short.stderr).not.toMatch(/Measuring/);
  }, 60_000);
});
