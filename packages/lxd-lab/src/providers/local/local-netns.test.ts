import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BenchResult, runBench } from "@labgate/bench";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { LabStateStore } from "../../engine/lab-state.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import type { StepContext } from "../../engine/step.js";
import { createStepContext } from "../../engine/step-context.js";
import { runFaults } from "../../faults/fault-runner.js";
import { parseFaults } from "../../faults/fault-spec.js";
import { localFaultActuator } from "../../faults/local-faults.js";
import { netemUnavailable, rootNetem } from "../../faults/local-netem.js";
import { fetchHaproxyServerStatus } from "../../haproxy/stats-csv.js";
import { defaultLabSpec } from "../../spec/default-lab-spec.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { freePorts } from "../../test-support/free-ports.js";
import { freeRange, sh } from "../../test-support/free-range.js";
import { localApps, localPaths } from "./local-lab.js";
import { waitFor } from "./local-process.js";
import { localProvider } from "./local-provider.js";
import { type AppNetns, appNetns } from "./netns-plan.js";

// providerOptions.netns on the real local lab: python3 apps in network namespaces the lab makes,
// HAProxy on this host reaching them over veth pairs on a private /24 no interface or route here uses.

const isRoot = process.getuid?.() === 0;
const tag = randomBytes(3).toString("hex");

const netnsList = () => sh("ip", "netns", "list");
const inode = async (path: string) => (await stat(path)).ino;

async function netnsSpec(name: string, range: string): Promise<LabSpec> {
  const [a, b, lb, stats] = await freePorts(4);
  const base = defaultLabSpec();
  return {
    ...base,
    name,
    apps: { ...base.apps, ports: [a as number, b as number] },
    lb: { ...base.lb, port: lb as number, statsPort: stats as number },
    providerOptions: { netns: true, netnsRange: range, verifyRequests: 10 },
    bench: { enabled: false },
  };
}

/** Removes whatever of these links is left (a failed test must not leave namespaces behind). */
function removeLinks(links: AppNetns[]): void {
  for (const n of links) {
    if (netnsList().includes(n.netns)) sh("ip", "netns", "del", n.netns);
    try {
      sh("ip", "link", "del", n.vethHost);
    } catch {
      // Gone with its peer.
    }
  }
}

describe.skipIf(!isRoot)(
  "local lab with providerOptions.netns (real namespaces, python3 apps, HAProxy)",
  () => {
    let root: string;
    let stateDir: string;
    let spec: LabSpec;
    let links: AppNetns[];
    let ctx: StepContext;
    let store: LabStateStore;
    const run = (s: LabSpec) => ({
      provider: localProvider,
      spec: s,
      stateDir,
      gate: autoYesGate(),
      log: () => {},
    });
    const pidOf = (app: string) =>
      ctx.resources("process").find((r) => r.id === app)?.data?.["pid"] as number;
    const statsUrl = () => `http://127.0.0.1:${spec.lb.statsPort}/stats;csv`;
    const allUp = () =>
      waitFor(
        async () => (await fetchHaproxyServerStatus(statsUrl())).every((s) => s.status === "UP"),
        15_000,
      );

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), "lgt-netns-"));
      stateDir = join(root, "lab");
      spec = await netnsSpec(`lgt-netns-${tag}`, freeRange("10.252", " for the netns lab test"));
      links = localApps(spec).map((app, i) => appNetns(spec, app, i));
      const up = await labUp(run(spec));
      expect(up.complete).toBe(true);
      store = new LabStateStore(stateDir);
      await store.load();
      ctx = createStepContext(store, spec, localProvider, () => {}, new AbortController().signal);
    }, 120_000);

    afterAll(async () => {
      await labDown(run(spec)).catch(() => {});
      removeLinks(links);
      await rm(root, { recursive: true, force: true });
    }, 60_000);

    it("each app runs inside its own namespace on its veth address; HAProxy reaches both there; status is healthy", async () => {
      for (const n of links) {
        expect(netnsList()).toContain(n.netns);
        // The process is the app itself (ip netns exec execs it) and lives in the namespace the lab made.
        expect(await inode(`/proc/${pidOf(n.app)}/ns/net`)).toBe(await inode(`/run/netns/${n.netns}`));
        const inside = JSON.parse(sh("ip", "-n", n.netns, "-j", "addr", "show", "dev", n.vethApp)) as {
          addr_info: { local: string; prefixlen: number }[];
        }[];
        expect(inside[0]?.addr_info).toContainEqual(
          expect.objectContaining({ local: n.appAddress, prefixlen: 30 }),
        );
        const host = sh("ip", "-4", "-br", "addr", "show", "dev", n.vethHost);
        expect(host).toContain(`${n.hostAddress}/30`);
        expect(host).toMatch(/\bUP\b/);
      }
      const cfg = await readFile(localPaths.haproxyConfig(stateDir), "utf8");
      for (const [i, n] of links.entries()) expect(cfg).toContain(`${n.appAddress}:${spec.apps.ports[i]}`);
      // Nothing listens on the host's loopback for the apps any more.
      await expect(fetch(`http://127.0.0.1:${spec.apps.ports[0]}/health`)).rejects.toThrow();
      expect(await allUp()).toBe(true);
      const served = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`http://127.0.0.1:${spec.lb.port}/`, { headers: { connection: "close" } });
        served.add(res.headers.get("x-served-by") ?? "");
      }
      expect([...served].sort()).toEqual(["app1", "app2"]);
      const health = await localProvider.status?.(ctx);
      const netns = health?.filter((h) => h.kind === "netns") ?? [];
      expect(netns.map((h) => [h.id, h.health])).toEqual(links.map((n) => [n.netns, "healthy"]));
      expect(health?.filter((h) => h.kind === "process").every((h) => h.health === "healthy")).toBe(true);
      // \`lab verify\`: the full round robin through HAProxy to the apps in their namespaces.
      const verified = await localProvider.verify?.(ctx, {});
      expect(verified?.passed, verified?.summary).toBe(true);
    }, 60_000);

    it("drift: an address taken off the app's end is seen by status and put back by lab up", async () => {
      const n = links[1] as AppNetns;
      sh("ip", "-n", n.netns, "addr", "flush", "dev", n.vethApp);
      const health = await localProvider.status?.(ctx);
      const seen = health?.find((h) => h.kind === "netns" && h.id === n.netns);
      expect(seen?.health).toBe("unhealthy");
      expect(seen?.detail).toContain(`lacks ${n.appAddress}/30`);
      expect(health?.find((h) => h.id === "app2")?.health).toBe("unhealthy");
      const up = await labUp(run(spec));
      expect(up.complete).toBe(true);
      await store.load();
      const after = await localProvider.status?.(ctx);
      expect(after?.filter((h) => h.kind === "netns").every((h) => h.health === "healthy")).toBe(true);
      expect(after?.find((h) => h.id === "app2")?.health).toBe("healthy");

      // The whole link of app1 deleted by hand (both veth ends go): made again, the app answers through it.
      const first = links[0] as AppNetns;
      sh("ip", "link", "del", first.vethHost);
      const broken = await localProvider.status?.(ctx);
      expect(broken?.find((h) => h.kind === "netns" && h.id === first.netns)?.detail).toContain(
        `veth ${first.vethHost} is missing`,
      );
      expect((await labUp(run(spec))).complete).toBe(true);
      await store.load();
      const repaired = await localProvider.status?.(ctx);
      expect(repaired?.filter((h) => h.kind === "netns").every((h) => h.health === "healthy")).toBe(true);
      expect(repaired?.find((h) => h.id === "app1")?.health).toBe("healthy");
      expect((await localProvider.verify?.(ctx, {}))?.passed).toBe(true);
    }, 90_000);

    it("stop and pause act on the app's own process: a stopped app comes back inside its namespace", async () => {
      expect(await allUp()).toBe(true);
      const before = pidOf("app2");
      const stop = await runFaults(parseFaults(["stop app2 at 0ms for 500ms"]), localFaultActuator(ctx));
      expect(stop.timelines[0]?.undoReason).toBe("window-end");
      const after = pidOf("app2");
      expect(after).not.toBe(before);
      expect(await inode(`/proc/${after}/ns/net`)).toBe(await inode(`/run/netns/${links[1]?.netns}`));
      const state = async (pid: number) => (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.[0];
      const paused = runFaults(parseFaults(["pause app1 at 0ms for 800ms"]), localFaultActuator(ctx));
      expect(await waitFor(async () => (await state(pidOf("app1"))) === "T", 5_000, undefined, 20)).toBe(
        true,
      );
      await paused;
      expect(await state(pidOf("app1"))).not.toBe("T");
      expect(await allUp()).toBe(true);
    }, 60_000);

    const netem = netemUnavailable();

    it.skipIf(netem === undefined)(
      "delay on a kernel without netem: refused before anything runs, and the kernel agrees",
      async () => {
        const n = links[1] as AppNetns;
        const refusal = runFaults(parseFaults(["delay 200ms app2 at 0ms for 1s"]), localFaultActuator(ctx));
        await expect(refusal).rejects.toMatchObject({ code: "FAULT_NETEM_UNAVAILABLE", exitCode: 4 });
        await expect(refusal).rejects.toThrow(/netem/);
        // The verdict agrees with the kernel: tc cannot add a netem qdisc here.
        expect(() =>
          sh("ip", "netns", "exec", n.netns, "tc", "qdisc", "add", "dev", n.vethApp, "root", "netem"),
        ).toThrow(/qdisc kind is unknown/);
        expect(await rootNetem({ netns: n.netns, dev: n.vethApp })).toBeUndefined();
      },
    );

    it.skipIf(netem !== undefined)(
      "delay 200ms app2: app2's p99 rises by 200 ms or more while app1's stays; no netem is left after",
      async () => {
        expect(await allUp()).toBe(true);
        const bench = (): Promise<BenchResult> =>
          runBench({
            url: `http://127.0.0.1:${spec.lb.port}/`,
            connections: 4,
            durationMs: 3_000,
            warmupMs: 500,
          });
        const p99 = (r: BenchResult, app: string) =>
          (r.backends.entries.find((e) => e.name === app)?.latency.p99Us ?? Number.NaN) / 1_000;
        const baseline = await bench();
        const target = { netns: links[1]?.netns as string, dev: links[1]?.vethApp as string };
        const faults = runFaults(parseFaults(["delay 200ms app2 at 0ms for 4s"]), localFaultActuator(ctx));
        expect(
          await waitFor(async () => (await rootNetem(target))?.delayMs === 200, 5_000, undefined, 20),
        ).toBe(true);
        const faulted = await bench();
        await faults;
        expect(await rootNetem(target)).toBeUndefined();
        expect(p99(faulted, "app2") - p99(baseline, "app2")).toBeGreaterThanOrEqual(200);
        expect(p99(faulted, "app1")).toBeLessThan(p99(baseline, "app1") + 100);
      },
      60_000,
    );

    it("lab down removes the namespaces and links it made, and leaves one it did not make", async () => {
      const [first, second] = links as [AppNetns, AppNetns];
      // Someone replaces app1's namespace by one of the same name: labgate did not make that one.
      sh("ip", "netns", "del", first.netns);
      sh("ip", "netns", "add", first.netns);
      const down = await labDown(run(spec));
      expect(down.complete).toBe(true);
      expect(netnsList()).toContain(first.netns);
      expect(netnsList()).not.toContain(second.netns);
      for (const n of links) expect(() => sh("ip", "link", "show", n.vethHost)).toThrow();
      sh("ip", "netns", "del", first.netns);
    }, 60_000);
  },
);

describe.skipIf(!isRoot)(
  "netns preflight refuses what labgate did not make, before changing anything",
  () => {
    const hostIf = `lgtn${tag}c`;
    let root: string;
    let spec: LabSpec;

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), "lgt-netns-pre-"));
    });
    afterAll(async () => {
      try {
        sh("ip", "link", "del", hostIf);
      } catch {
        // Not created or already gone.
      }
      removeLinks(spec ? localApps(spec).map((app, i) => appNetns(spec, app, i)) : []);
      await rm(root, { recursive: true, force: true });
    });

    it("a host interface on the links' range: NETNS_RANGE_CLASH naming it (exit 4)", async () => {
      const range = freeRange("10.252", " for the netns lab test");
      spec = await netnsSpec(`lgt-netnsc-${tag}`, range);
      sh("ip", "link", "add", hostIf, "type", "veth", "peer", "name", `${hostIf}p`);
      sh("ip", "addr", "add", `${range.replace(/0\/24$/, "9")}/24`, "dev", hostIf);
      const stateDir = join(root, "clash");
      const up = labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} });
      await expect(up).rejects.toMatchObject({ exitCode: 4, cause: { code: "NETNS_RANGE_CLASH" } });
      await expect(up).rejects.toThrow(`interface ${hostIf} has ${range.replace(/0\/24$/, "9")}/24`);
      expect(netnsList()).not.toContain(`lg-lgt-netnsc-${tag}-app1`);
      sh("ip", "link", "del", hostIf);
    }, 60_000);

    it("a namespace of the lab's name that exists already: NETNS_EXISTS, and lab down leaves it", async () => {
      spec = await netnsSpec(`lgt-netnsx-${tag}`, freeRange("10.252", " for the netns lab test"));
      const foreign = appNetns(spec, localApps(spec)[0] as never, 0).netns;
      sh("ip", "netns", "add", foreign);
      const stateDir = join(root, "exists");
      const opts = { provider: localProvider, spec, stateDir, gate: autoYesGate(), log: () => {} };
      await expect(labUp(opts)).rejects.toMatchObject({ exitCode: 4, cause: { code: "NETNS_EXISTS" } });
      await labDown(opts).catch(() => {});
      expect(netnsList()).toContain(foreign);
      sh("ip", "netns", "del", foreign);
    }, 60_000);
  },
);
