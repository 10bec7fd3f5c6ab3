import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type DeploySpec,
  IpPool,
  LocalAdapter,
  localLoopbackPoolConfig,
  type NodeRef,
  type PlatformAdapter,
  ProxmoxAdapter,
  readDeployRecord,
} from "@labgate/core";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../bench/src/test-support/temp-dir.js";
import { startProxmoxSim } from "../../../core/src/adapters/test-support/proxmox-sim.js";
import { writeUnnamedIntent } from "../../../core/src/deploy-rules/test-support/interrupted-record.js";
import { seedNetwork } from "../../../core/src/ip-pool/test-support/seed-network.js";
import type { Gate, GateRequest } from "../engine/gate.js";
import { runPlan } from "../engine/run-plan.js";
import { type DeployContext, emptyDeployReport } from "./deploy-context.js";
import { planDeploymentSteps } from "./deploy-plan.js";
import { openDeployPlanStore } from "./deploy-store.js";

/** --yes, except that it quits at `quitAt` (a person answering q); remembers what each step showed. */
function answeringGate(quitAt?: string): { gate: Gate; asked: GateRequest[] } {
  const asked: GateRequest[] = [];
  return {
    asked,
    gate: {
      interactive: false,
      confirmsAll: true,
      async confirm(request) {
        asked.push(request);
        return request.step.id === quitAt ? "quit" : "yes";
      },
      close() {},
    },
  };
}

interface Deployment {
  adapter: PlatformAdapter;
  spec: DeploySpec;
  pool: IpPool;
  statePath: string;
}

/** One `deploy apply` of the deployment, as a fresh process would run it (a new context and store). */
async function apply(d: Deployment, gate: Gate, log: string[] = [], timeoutMs = 10_000) {
  const ctx: DeployContext = {
    adapter: d.adapter,
    spec: d.spec,
    platform: d.adapter.name,
    pool: d.pool,
    statePath: d.statePath,
    timeoutMs,
    log: (line) => log.push(line),
    warn: (line) => log.push(line),
    report: emptyDeployReport(),
  };
  const { steps } = await planDeploymentSteps(ctx);
  return runPlan(steps, {
    ctx,
    store: await openDeployPlanStore(d.statePath),
    gate,
    mode: "apply",
    log: (line) => log.push(line),
    resume: "labgate deploy apply vm.json",
    noun: "deployment",
  });
}

/** node1 on the local platform: a process running `script` (node -e) on a loopback pool address; ledger, record and logs in dir. */
function localDeployment(
  dir: string,
  script = "setInterval(() => {}, 1000)",
): Deployment & { adapter: LocalAdapter } {
  const spec: DeploySpec = {
    name: "node1",
    platform: "local",
    os: { family: "linux" },
    cores: 1,
    memory_mib: 128,
    network: {},
    platform_options: { local: { command: [process.execPath, "-e", script], log_dir: dir } },
  };
  return {
    adapter: new LocalAdapter({ spec, pollIntervalMs: 20 }),
    spec,
    pool: new IpPool({ config: localLoopbackPoolConfig(), statePath: join(dir, "ledger.json") }),
    statePath: join(dir, "local-node1.json"),
  };
}

const outcomes = (r: Awaited<ReturnType<typeof apply>>) => r.steps.map((s) => `${s.id}:${s.outcome}`);
const callsShownFor = (asked: GateRequest[], id: string) =>
  asked.filter((r) => r.step.id === id).flatMap((r) => r.step.calls.map((c) => c.display));

describe("a resumed deploy apply finds its node stopped: wait-running starts it, then waits", () => {
  it("on the Proxmox simulator: the VM shut down between two runs is started once, nothing is cloned again", async () => {
    const dir = await tempDir("labgate-deploy-resume-");
    const token = { PROXMOX_TOKEN_ID: "labgate@pve!resume", PROXMOX_TOKEN_SECRET: "a1b2c3d4-resume-secret" };
    /** While set, the simulator says every VM is stopped (a guest that does not come up). */
    let reportStopped = true;
    const sim = await startProxmoxSim({
      tokenId: token.PROXMOX_TOKEN_ID,
      secret: token.PROXMOX_TOKEN_SECRET,
      intercept: (req, reply) => {
        if (!(reportStopped && req.method === "GET" && req.path.endsWith("/status/current"))) return reply;
        const body = reply.body as { data?: Record<string, unknown> } | undefined;
        if (!body?.data) return reply;
        return { ...reply, body: { data: { ...body.data, status: "stopped", qmpstatus: "stopped" } } };
      },
    });
    try {
      sim.addTemplate(9000, { config: { scsi0: "local-lvm:base-9000-disk-0,size=3G", boot: "order=scsi0" } });
      const spec: DeploySpec = {
        name: "web-1",
        os: { family: "linux", distro: "ubuntu" },
        cores: 1,
        memory_mib: 1024,
        template_id: "9000",
        network: { cidr: "192.168.3.0/24" },
        platform_options: { proxmox: { node: "pve1", url: sim.url } },
      };
      const d: Deployment = {
        adapter: new ProxmoxAdapter({ spec, env: token, pollIntervalMs: 10 }),
        spec,
        pool: new IpPool({ config: { networks: [seedNetwork()] }, statePath: join(dir, "ledger.json") }),
        statePath: join(dir, "proxmox-web-1.json"),
      };
      const starts = () =>
        sim.requests.filter((q) => q.method === "POST" && q.path.endsWith("/status/start")).length;
      const first = answeringGate();
      await expect(apply(d, first.gate, [], 500)).rejects.toMatchObject({
        stepId: "wait-running",
        cause: { code: "PLATFORM_WAIT_TIMEOUT" },
      });
      // Run 1 only waited: its create call had just started the VM (one start, no second one).
      expect(callsShownFor(first.asked, "wait-running").some((c) => c.startsWith("start "))).toBe(false);
      expect(starts()).toBe(1);
      const ref = (await readDeployRecord(d.statePath))?.ref as NodeRef;
      expect(ref.id).toBe("100");

      // The guest went down: the VM is shut down through the API before the apply is resumed.
      reportStopped = false;
      await d.adapter.stop(ref);
      expect(sim.vms.get(100)?.status).toBe("stopped");

      const second = answeringGate();
      const resumed = await apply(d, second.gate);
      expect(outcomes(resumed)).toEqual([
        "reserve-address:already-done",
        "create-node:already-done",
        "wait-running:applied",
      ]);
      // The gate showed the start it was about to make, before the polls.
      expect(callsShownFor(second.asked, "wait-running")[0]).toBe("start proxmox node 100 (web-1)");
      expect(second.asked.find((r) => r.step.id === "wait-running")?.step.why).toContain("is stopped");
      expect(starts()).toBe(2);
      expect(sim.vms.get(100)?.status).toBe("running");
      expect(sim.requests.filter((q) => q.method === "POST" && q.path.endsWith("/clone"))).toHaveLength(1);

      // A third run finds it running: nothing is started again.
      const third = await apply(d, answeringGate().gate);
      expect(outcomes(third)).toContain("wait-running:already-done");
      expect(starts()).toBe(2);
    } finally {
      await sim.close();
    }
  }, 60_000);

  it("on the local platform: the paused process is resumed (SIGCONT) and the step waits until it runs", async () => {
    const d = localDeployment(await tempDir("labgate-deploy-resume-"));
    const { adapter } = d;
    let ref: NodeRef | undefined;
    try {
      expect(outcomes(await apply(d, answeringGate().gate))).toContain("wait-running:already-done");
      ref = (await readDeployRecord(d.statePath))?.ref as NodeRef;
      await adapter.stop(ref);
      expect((await adapter.get(ref))?.state).toBe("stopped");

      const second = answeringGate();
      const log: string[] = [];
      const resumed = await apply(d, second.gate, log);
      expect(outcomes(resumed)).toContain("wait-running:applied");
      expect(callsShownFor(second.asked, "wait-running")[0]).toBe(`start local node ${ref.id} (node1)`);
      expect(log).toContain(`  → kill -CONT -${ref.id}`);
      expect((await adapter.get(ref))?.state).toBe("running");
    } finally {
      if (ref) await adapter.destroy(ref);
    }
  }, 60_000);
});

describe("wait-running starts only the node the record still names", () => {
  it("local: a record replaced while the gate asked is refused (DEPLOY_RECORD_INCOMPLETE); the stopped node stays stopped", async () => {
    const d = localDeployment(await tempDir("labgate-deploy-restart-"));
    const { adapter, statePath } = d;
    let ref: NodeRef | undefined;
    try {
      await apply(d, answeringGate().gate);
      ref = (await readDeployRecord(statePath))?.ref as NodeRef;
      await adapter.stop(ref);
      const replaced = { ...ref, id: "999999", location: { ...ref.location, started: "1" } };
      const gate: Gate = {
        interactive: false,
        confirmsAll: true,
        async confirm(request) {
          // While the question is open, someone else's apply or a hand edit records another node.
          if (request.step.id === "wait-running") {
            const record = JSON.parse(await readFile(statePath, "utf8"));
            await writeFile(statePath, JSON.stringify({ ...record, ref: replaced }));
          }
          return "yes";
        },
        close() {},
      };
      await expect(apply(d, gate)).rejects.toMatchObject({
        stepId: "wait-running",
        cause: { code: "DEPLOY_RECORD_INCOMPLETE", message: expect.stringContaining(`node ${ref.id}`) },
      });
      expect((await adapter.get(ref))?.state).toBe("stopped");
    } finally {
      if (ref) await adapter.destroy(ref);
    }
  }, 60_000);
});

describe("an interrupted apply nobody can resume (no findByName, no id) is refused before the ledger is written", () => {
  it("local: DEPLOY_INTERRUPTED_UNKNOWN from reserve-address's check; ledger, record and directory unchanged", async () => {
    const dir = await tempDir("labgate-deploy-refuse-");
    const d = localDeployment(dir, "0");
    const { pool, statePath } = d;
    // The ledger holds someone else's address; the interrupted apply's own was released by hand.
    await pool.allocate("loopback", "someone-else");
    await writeUnnamedIntent(statePath, "local", "node1", "2026-12-07T00:00:00.000Z");
    const before = {
      ledger: await readFile(join(dir, "ledger.json")),
      record: await readFile(statePath),
      files: (await readdir(dir)).sort(),
    };
    const { gate, asked } = answeringGate();
    const refused = apply(d, gate);
    await expect(refused).rejects.toMatchObject({
      stepId: "reserve-address",
      cause: { code: "DEPLOY_INTERRUPTED_UNKNOWN" },
    });
    await expect(refused).rejects.toMatchObject({
      cause: { hint: expect.stringContaining("labgate ip release --owner deploy/local/node1") },
    });
    expect(asked).toEqual([]);
    expect(await readFile(join(dir, "ledger.json"))).toEqual(before.ledger);
    expect(await readFile(statePath)).toEqual(before.record);
    expect((await readdir(dir)).sort()).toEqual(before.files);
    expect((await pool.list()).map((a) => a.owner)).toEqual(["someone-else"]);
  });
});
