import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { LabStateStore } from "../../engine/lab-state.js";
import { labVerify } from "../../engine/lab-status.js";
import { planSteps } from "../../engine/plan-view.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import { fetchHaproxyLiveView } from "../../haproxy/live-config.js";
import { defaultLabSpec } from "../../spec/default-lab-spec.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { freePorts } from "../../test-support/free-ports.js";
import { isRunning } from "./local-process.js";
import { localProvider } from "./local-provider.js";

async function lbPid(stateDir: string, spec: LabSpec): Promise<number> {
  const store = new LabStateStore(stateDir);
  await store.load();
  const lb = store.snapshot(spec.name, "local").resources.find((r) => r.kind === "process" && r.id === "lb");
  return lb?.data?.["pid"] as number;
}

async function processPids(stateDir: string, spec: LabSpec): Promise<Record<string, unknown>> {
  const store = new LabStateStore(stateDir);
  await store.load();
  return Object.fromEntries(
    store
      .snapshot(spec.name, "local")
      .resources.filter((r) => r.kind === "process")
      .map((r) => [r.id, r.data?.["pid"]]),
  );
}

async function liveAlgo(statsPort: number): Promise<string | undefined> {
  const view = await fetchHaproxyLiveView(`http://127.0.0.1:${statsPort}/stats;csv`).catch(() => undefined);
  return view?.backends.find((b) => b.servers.some((s) => s.name === "app1"))?.algo;
}

describe("local lab: checks observe the live HAProxy, and `lab up` repairs drift (real HAProxy)", () => {
  let root: string;
  let stateDir: string;
  let spec: LabSpec;
  let statsPort: number;
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "labgate-local-drift-"));
    stateDir = join(root, "lab");
    const [a, b, lb, stats] = await freePorts(4);
    statsPort = stats!;
    const base = defaultLabSpec();
    spec = {
      ...base,
      name: "drift",
      apps: { ...base.apps, ports: [a!, b!] },
      lb: { ...base.lb, port: lb!, statsPort },
      providerOptions: { verifyRequests: 20 },
      bench: { durationMs: 1_000, connections: 2 },
    };
    await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
  });

  afterAll(async () => {
    await labDown({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it("`balance first` edited into haproxy.cfg and reloaded: up names the drift and restores round robin", async () => {
    const cfg = join(stateDir, "run", "haproxy.cfg");
    const original = await readFile(cfg, "utf8");
    expect(original).toContain("balance roundrobin");
    const pid = await lbPid(stateDir, spec);
    await writeFile(cfg, original.replace("balance roundrobin", "balance first"));
    // A master-worker reload, as `systemctl reload haproxy` does: the same master reads the edited file.
    process.kill(pid, "SIGUSR2");
    await expect.poll(() => liveAlgo(statsPort), { timeout: 10_000 }).toBe("first");
    const broken = await labVerify({ provider: localProvider, spec, stateDir, verify: { requests: 10 } });
    expect(broken.passed).toBe(false);

    logs.length = 0;
    const up = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(up.steps.find((s) => s.id === "start-haproxy")?.outcome).toBe("applied");
    const out = logs.join("\n");
    expect(out).toMatch(
      /start-haproxy: drift found: .*haproxy\.cfg differs .*`balance first` \(want `balance roundrobin`\)/,
    );
    expect(out).toMatch(/the running HAProxy balances with "first" \(want "roundrobin"\)/);
    expect(out).toMatch(/start-haproxy: repaired: rewrote .*haproxy\.cfg .* and restarted HAProxy/);
    expect(await readFile(cfg, "utf8")).toBe(original);
    expect(await liveAlgo(statsPort)).toBe("roundrobin");
    expect(await isRunning(pid)).toBe(false);
    const fixed = await labVerify({ provider: localProvider, spec, stateDir, verify: { requests: 20 } });
    expect(fixed.passed, fixed.summary).toBe(true);
  });

  it("an app started from other app files than those on disk now is restarted, and only it", async () => {
    // As after an upgrade of labgate's payload: the recorded hash is what app1 was started from.
    const store = new LabStateStore(stateDir);
    await store.load();
    await store.update(spec.name, "local", (state) => {
      const app1 = state.resources.find((r) => r.kind === "process" && r.id === "app1");
      if (app1?.data) app1.data["payloadHash"] = "0000000000000000";
    });
    const before = await processPids(stateDir, spec);
    logs.length = 0;
    const up = await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(up.steps.filter((s) => s.outcome === "applied").map((s) => s.id)).toEqual(["start-app1"]);
    const out = logs.join("\n");
    expect(out).toMatch(
      /start-app1: drift found: the app files changed since app1 started \(sha256 0000000000000000, now [0-9a-f]{16}\)/,
    );
    expect(out).toMatch(/start-app1: repaired: restarted app1 on the current app files \(pid \d+\)/);
    const after = await processPids(stateDir, spec);
    expect(after["app1"]).not.toBe(before["app1"]);
    expect(after["app2"]).toBe(before["app2"]);
  });

  it("a reload with the edit, then the file put back: the live HAProxy is still seen as drifted", async () => {
    const cfg = join(stateDir, "run", "haproxy.cfg");
    const original = await readFile(cfg, "utf8");
    const pid = await lbPid(stateDir, spec);
    await writeFile(cfg, original.replace("balance roundrobin", "balance first"));
    process.kill(pid, "SIGUSR2");
    await expect.poll(() => liveAlgo(statsPort), { timeout: 10_000 }).toBe("first");
    await writeFile(cfg, original);

    const step = planSteps(localProvider, spec).find((s) => s.description.id === "start-haproxy");
    const store = new LabStateStore(stateDir);
    await store.load();
    const { createStepContext } = await import("../../engine/step-context.js");
    const ctx = createStepContext(store, spec, localProvider, () => {}, new AbortController().signal);
    const found = await step?.actions.check(ctx);
    expect(found).toEqual({
      done: false,
      detail: 'drift: the running HAProxy balances with "first" (want "roundrobin")',
      // What apply then reports and repairs, without looking again.
      facts: {
        pid: expect.any(Number),
        drift: ['the running HAProxy balances with "first" (want "roundrobin")'],
      },
    });

    logs.length = 0;
    await labUp({ provider: localProvider, spec, stateDir, gate: autoYesGate(), log });
    expect(logs.join("\n")).toMatch(/drift found: the running HAProxy balances with "first"/);
    expect(await liveAlgo(statsPort)).toBe("roundrobin");
  });
});
