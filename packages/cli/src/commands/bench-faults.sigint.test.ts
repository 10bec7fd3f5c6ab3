import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { LabStateStore } from "@labgate/lxd-lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeRange, sh } from "../../../lxd-lab/src/test-support/free-range.js";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import { downLocalLab, upLocalLab } from "../test-support/local-lab.js";
import { freePorts } from "../test-support/loopback-ports.js";
import { spawnBuiltCli } from "../test-support/spawned-cli.js";

/**
 * Ctrl-C as a user gives it: SIGINT to a real `labgate bench run --lab --fault` process while every
 * kind of fault is in place on the local lab. As root the apps run in their own network namespaces
 * (providerOptions.netns), so a delay fault joins in where the kernel has netem.
 */
const isRoot = process.getuid?.() === 0;
const tag = randomBytes(3).toString("hex");
const labName = `lgt-sigint-${tag}`;
const netem =
  isRoot &&
  spawnSync("unshare", ["--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])
    .status === 0;
const apps = netem ? 4 : 3;
const appNames = Array.from({ length: apps }, (_, i) => `app${i + 1}`);

let dir: string;
let specFile: string;
let stateDir: string;
let statsPort: number;

beforeAll(async () => {
  ensureBuiltCli();
  dir = await mkdtemp(join(tmpdir(), "lgt-bench-sigint-"));
  const ports = await freePorts(apps + 2);
  statsPort = ports[apps + 1] as number;
  specFile = join(dir, "lab.json");
  stateDir = join(dir, "state");
  await writeFile(
    specFile,
    JSON.stringify({
      name: labName,
      apps: { count: apps, ports: ports.slice(0, apps) },
      lb: { port: ports[apps], statsPort },
      bench: { enabled: false },
      ...(isRoot ? { providerOptions: { netns: true, netnsRange: freeRange("10.253") } } : {}),
    }),
  );
  await upLocalLab(specFile, dir, stateDir);
}, 600_000);

afterAll(async () => {
  await downLocalLab(specFile, dir, stateDir);
  for (const app of appNames) {
    const ns = `lg-${labName}-${app}`;
    if (isRoot && sh("ip", "netns", "list").includes(ns)) sh("ip", "netns", "del", ns);
  }
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** The stats CSV's status column per app: "UP", "DOWN", "DRAIN", "MAINT", "UP 1/2" ... */
async function serverStatuses(): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`);
  return (await res.text())
    .split("\n")
    .filter((l) => l.startsWith(`${labName}_apps,app`))
    .map((l) => l.split(",")[17] ?? "");
}

async function appPids(): Promise<Record<string, number>> {
  const store = new LabStateStore(stateDir);
  await store.load();
  const found = store.snapshot(labName, "local").resources.filter((r) => r.kind === "process");
  return Object.fromEntries(found.map((r) => [r.id, r.data?.["pid"] as number]));
}

const procState = async (pid: number) =>
  (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")).split(") ")[1]?.[0];

/** Every qdisc line in an app's namespace (none at all when the lab has no namespaces). */
const qdiscs = (app: string) =>
  isRoot ? sh("ip", "netns", "exec", `lg-${labName}-${app}`, "tc", "qdisc", "show") : "";

describe("labgate bench run --lab --fault, interrupted by SIGINT (a real process)", () => {
  it("mid-fault: the command exits 130 after every backend is back (running, not stopped, no netem, ready)", async () => {
    const before = await appPids();
    const faults = [
      "stop app1 at 1s for 50s",
      "pause app2 at 1s for 50s",
      "drain app3 at 1s for 50s",
      ...(netem ? ["delay 200ms app4 at 1s for 50s"] : []),
    ];
    const run = spawnBuiltCli([
      "bench",
      "run",
      "--lab",
      specFile,
      "--state-dir",
      stateDir,
      "-c",
      "2",
      "-R",
      "50",
      "-d",
      "60s",
      ...faults.flatMap((f) => ["--fault", f]),
      "--yes",
      "--json",
      "--no-progress",
    ]);
    const { child, exited } = run;
    try {
      // Every fault in place, as the machine shows it.
      await expect
        .poll(async () => procState(before["app1"] as number), { timeout: 60_000, interval: 100 })
        .toBeUndefined();
      await expect
        .poll(() => procState(before["app2"] as number), { timeout: 10_000, interval: 50 })
        .toBe("T");
      await expect
        .poll(async () => (await serverStatuses())[2], { timeout: 10_000, interval: 100 })
        .toBe("DRAIN");
      if (netem) await expect.poll(() => qdiscs("app4"), { timeout: 10_000, interval: 100 }).toMatch(/netem/);
      child.kill("SIGINT");
      const code = await exited;
      expect(code, run.stderr).toBe(ExitCode.INTERRUPTED);
      const result = JSON.parse(run.stdout) as {
        aborted: boolean;
        faults: { undoReason: string; error: null }[];
      };
      expect(result.aborted).toBe(true);
      expect(result.faults.map((f) => f.undoReason)).toEqual(faults.map(() => "interrupted"));
      expect(result.faults.every((f) => f.error === null)).toBe(true);

      // Back before the command returned: each app runs (a new app1, the same app2 resumed), in its namespace.
      const after = await appPids();
      expect(after["app1"]).not.toBe(before["app1"]);
      expect(after["app2"]).toBe(before["app2"]);
      for (const app of appNames) {
        const pid = after[app] as number;
        expect(await procState(pid), app).toMatch(/^[RS]$/);
        if (isRoot) {
          expect((await stat(`/proc/${pid}/ns/net`)).ino, app).toBe(
            (await stat(`/run/netns/lg-${labName}-${app}`)).ino,
          );
          expect(qdiscs(app), app).not.toMatch(/netem/);
        }
      }
      // HAProxy: no server drained or in maintenance; all UP once app1's restart passes its checks.
      await expect.poll(serverStatuses, { timeout: 15_000, interval: 200 }).toEqual(appNames.map(() => "UP"));
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 300_000);
});
