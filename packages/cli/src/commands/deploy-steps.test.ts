import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SimRequest } from "../../../core/src/adapters/test-support/http-sim.js";
import { startProxmoxSim } from "../../../core/src/adapters/test-support/proxmox-sim.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { endProxmoxDeploy, useProxmoxDeploySpec } from "../test-support/proxmox-deploy-env.js";
import { deployCommand } from "./deploy.js";

const TOKEN_ID = "labgate@pve!steps";
const SECRET = "5d1f0a93-steps-test-secret-c7e2";
const POOLS = {
  networks: [
    {
      cidr: "192.168.3.0/24",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8"],
      dhcp: false,
      pools: [{ start: "192.168.3.30", end: "192.168.3.40" }],
    },
  ],
};

interface JsonStep {
  id: string;
  title: string;
  why: string;
  outcome: string;
  calls: { display: string; kind?: string }[];
}

const MUTATING = new Set(["POST", "PUT", "DELETE"]);
/** Task polls are the clone's and start's own waiting (named in the planned call's why), not calls of their own. */
const isTaskPoll = (r: SimRequest) => r.method === "GET" && /\/tasks\/[^/]+\/status$/.test(r.path);

/** `deploy apply` and `destroy` on the runner, against the Proxmox simulator on loopback. */
describe("labgate deploy apply/destroy as steps", () => {
  let dir: string;
  let state: string;
  let specPath: string;
  let sim: Awaited<ReturnType<typeof startProxmoxSim>>;
  /** While set, the simulator says every VM is stopped (a guest that does not come up). */
  let reportStopped = false;
  const saved = { ...process.env };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-deploy-steps-"));
    state = join(dir, "state");
    reportStopped = false;
    sim = await startProxmoxSim({
      tokenId: TOKEN_ID,
      secret: SECRET,
      intercept: (req, reply) => {
        if (!(reportStopped && req.method === "GET" && req.path.endsWith("/status/current"))) return reply;
        const body = reply.body as { data?: Record<string, unknown> } | undefined;
        if (!body?.data) return reply;
        return { ...reply, body: { data: { ...body.data, status: "stopped", qmpstatus: "stopped" } } };
      },
    });
    sim.addTemplate(9000, { config: { scsi0: "local-lvm:base-9000-disk-0,size=3G", boot: "order=scsi0" } });
    specPath = await useProxmoxDeploySpec({
      dir,
      url: sim.url,
      vm: { name: "web-1", cores: 2, memory_gib: 2, disk_gb: 8 },
      network: { cidr: "192.168.3.0/24" },
      pools: POOLS,
      token: { id: TOKEN_ID, secret: SECRET },
    });
  });
  afterEach(() => endProxmoxDeploy(saved, sim, dir));

  const applyDryRun = async () => {
    const r = await cli(["deploy", "apply", specPath, "--dry-run", "--json", "--state-dir", state]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      mode: string;
      steps: JsonStep[];
      plan: { calls: { kind: string; action: string; target: string; params?: Record<string, unknown> }[] };
    };
  };

  it("apply --dry-run --json prints the steps (id, title, why, calls) and creates nothing", async () => {
    const doc = await applyDryRun();
    expect(doc.mode).toBe("dry-run");
    expect(doc.steps.map((s) => s.id)).toEqual(["reserve-address", "create-node", "wait-running"]);
    for (const s of doc.steps) {
      expect(s.title.length).toBeGreaterThan(0);
      expect(s.why.length).toBeGreaterThan(20);
      expect(s.outcome).toBe("would-run");
    }
    const [reserve, create, wait] = doc.steps as [JsonStep, JsonStep, JsonStep];
    expect(reserve.calls[0]?.display).toContain("allocate 192.168.3.30/24 for deploy/proxmox/web-1");
    expect(create.calls.map((c) => c.display.split(" ").slice(0, 2).join(" "))).toEqual([
      "GET /api2/json/cluster/nextid",
      "POST /api2/json/nodes/pve1/qemu/9000/clone",
      "GET /api2/json/nodes/pve1/qemu/<nextid>/config",
      "PUT /api2/json/nodes/pve1/qemu/<nextid>/config",
      "PUT /api2/json/nodes/pve1/qemu/<nextid>/resize",
      "POST /api2/json/nodes/pve1/qemu/<nextid>/status/start",
    ]);
    expect(wait.calls.map((c) => c.display)).toEqual([
      "GET /api2/json/nodes/pve1/qemu/<nextid>/status/current",
    ]);
    // The step calls are the adapter's plan, split between create-node and wait-running, nothing added or lost.
    expect([...create.calls, ...wait.calls]).toHaveLength(doc.plan.calls.length);

    // Nothing changed: no request reached the platform, no ledger, no state dir, no progress file.
    expect(sim.requests.filter((r) => MUTATING.has(r.method))).toEqual([]);
    expect(sim.requests).toHaveLength(0);
    await expect(stat(join(dir, "ip_pools.state.json"))).rejects.toThrow();
    await expect(stat(state)).rejects.toThrow();
    const human = await cli(["deploy", "apply", specPath, "--dry-run", "--state-dir", state]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("create-node");
    expect(human.stdout).toContain("nothing was changed");
    expect(sim.requests).toHaveLength(0);
  });

  it("plan --json prints the steps apply --dry-run shows, from the same descriptions, checking nothing", async () => {
    const r = await cli(["deploy", "plan", specPath, "--json", "--state-dir", state]);
    expect(r.code, r.stderr).toBe(0);
    const planned = JSON.parse(r.stdout) as { steps: JsonStep[]; plan: { calls: { why: string }[] } };
    const dry = await applyDryRun();
    expect(planned.steps).toEqual(
      dry.steps.map(({ outcome: _o, detail: _d, ...step }: JsonStep & { detail?: string }) => step),
    );
    expect(planned.steps.map((s) => s.id)).toEqual(["reserve-address", "create-node", "wait-running"]);
    // The adapter's plan stays beside the steps (its network and each call's why).
    expect(planned.plan).toEqual(dry.plan);
    const human = await cli(["deploy", "plan", specPath, "--state-dir", state]);
    expect(human.stdout).toContain("2. create-node — Create web-1 on proxmox\n");
    expect(human.stdout).toContain("   $ POST /api2/json/nodes/pve1/qemu/9000/clone");
    // Each planned call is shown once, with its why.
    for (const c of planned.plan.calls) expect(human.stdout).toContain(`     ${c.why}`);
    expect(sim.requests).toHaveLength(0);
    await expect(stat(join(dir, "ip_pools.state.json"))).rejects.toThrow();
    await expect(stat(state)).rejects.toThrow();
  });

  it("the calls apply makes are the plan's calls: every mutating request, in order, and every planned read", async () => {
    const planned = (await applyDryRun()).plan.calls;
    const r = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(r.code, r.stderr).toBe(0);
    const vmid = String(JSON.parse(r.stdout).ref.id);
    const fill = (target: string) => target.replace("<nextid>", vmid);
    const expected = planned.map((c) => `${c.action} ${fill(c.target)}`);
    const made = sim.requests.filter((q) => !isTaskPoll(q)).map((q) => `${q.method} ${q.path}`);

    // Every call that changes the platform was planned, in the plan's order, and nothing else changed it.
    expect(made.filter((c) => MUTATING.has(c.split(" ")[0] as string))).toEqual(
      expected.filter((c) => MUTATING.has(c.split(" ")[0] as string)),
    );
    // Every planned call was made, in order (the reads may repeat: polls, and the checks that prove each step).
    let at = 0;
    for (const call of made) if (call === expected[at]) at++;
    expect(expected.slice(at)).toEqual([]);
    // The parameters sent are the planned ones (the <nextid> placeholder filled in).
    const clone = sim.requests.find((q) => q.method === "POST" && q.path.endsWith("/clone"));
    const plannedClone = planned.find((c) => c.action === "POST" && c.target.endsWith("/clone"));
    expect(clone?.form).toEqual(
      Object.fromEntries(
        Object.entries(plannedClone?.params ?? {}).map(([k, v]) => [k, String(v).replace("<nextid>", vmid)]),
      ),
    );
    const config = sim.requests.find((q) => q.method === "PUT" && q.path.endsWith("/config"));
    const plannedConfig = planned.find((c) => c.action === "PUT" && c.target.endsWith("/config"));
    expect(config?.form).toEqual(
      Object.fromEntries(Object.entries(plannedConfig?.params ?? {}).map(([k, v]) => [k, String(v)])),
    );

    // destroy is the undo of the same steps, in reverse: the VM goes, then the address.
    const before = sim.requests.length;
    const d = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ destroyed: { id: vmid }, released: ["192.168.3.30"] });
    expect(sim.requests.slice(before).some((q) => q.method === "DELETE")).toBe(true);
    expect(sim.vms.has(Number(vmid))).toBe(false);
    await expect(stat(join(state, "proxmox-web-1.json"))).rejects.toThrow();
    await expect(stat(join(state, "proxmox-web-1.json.steps"))).rejects.toThrow();
  });

  it("an apply that failed mid-way (the VM never ran) resumes at the failed step: no second clone, same address", async () => {
    reportStopped = true;
    const failed = await cli(["deploy", "apply", specPath, "--yes", "--timeout", "3s", "--state-dir", state]);
    expect(failed.code, failed.stderr).toBe(ExitCode.TIMEOUT);
    expect(failed.stderr).toContain("PLATFORM_WAIT_TIMEOUT");
    expect(failed.stderr).toContain('step "wait-running" failed');
    expect(failed.stderr).toContain("resumes at step wait-running");
    const progress = JSON.parse(await readFile(join(state, "proxmox-web-1.json.steps"), "utf8"));
    expect(progress.steps).toMatchObject({
      "reserve-address": { status: "done" },
      "create-node": { status: "done" },
      "wait-running": { status: "failed" },
    });
    expect((await stat(join(state, "proxmox-web-1.json.steps"))).mode & 0o777).toBe(0o600);
    // The address stays held: the node that has it is still there.
    const ledger = JSON.parse(await readFile(join(dir, "ip_pools.state.json"), "utf8"));
    expect(ledger.allocations.map((a: { ip: string }) => a.ip)).toEqual(["192.168.3.30"]);

    // Without a change, a dry run says what the next apply does: two steps done, the wait to run.
    expect((await applyDryRun()).steps.map((s) => `${s.id}:${s.outcome}`)).toEqual([
      "reserve-address:already-done",
      "create-node:already-done",
      "wait-running:would-run",
    ]);

    reportStopped = false;
    const resumed = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const doc = JSON.parse(resumed.stdout);
    expect(doc).toMatchObject({ state: "running", network: { ip: "192.168.3.30" } });
    expect(doc.steps.map((s: { id: string; outcome: string }) => `${s.id}:${s.outcome}`)).toEqual([
      "reserve-address:already-done",
      "create-node:already-done",
      // Checked on the live VM, not taken from the record: it runs now, so the failed step is done.
      "wait-running:already-done",
    ]);
    expect(resumed.stderr).toContain("[3/3] wait-running: already done");
    expect(sim.requests.filter((q) => q.method === "POST" && q.path.endsWith("/clone"))).toHaveLength(1);
    expect([...sim.vms.values()].filter((vm) => vm.name === "web-1")).toHaveLength(1);

    // Complete now: a third apply is DEPLOY_EXISTS, as before the runner.
    const again = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", state]);
    expect(again.code).toBe(ExitCode.STATE);
    expect(again.stderr).toContain("DEPLOY_EXISTS");
  }, 60_000);

  it("Ctrl-C during the wait stops the run with exit 130, keeps the progress, and the next apply resumes", async () => {
    reportStopped = true;
    const controller = new AbortController();
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (c) => (err += c));
    const stdout = new PassThrough().resume();
    const stdin = Object.assign(new PassThrough(), { isTTY: false });
    const run = deployCommand(
      "apply",
      specPath,
      { yes: true, stateDir: state, timeout: "60s" },
      { stdin, stdout, stderr, env: process.env, signal: controller.signal },
    ).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string; exitCode?: number },
    );
    // Ctrl-C while the run waits for the VM: after create-node's verify and wait-running's check, its first poll.
    const statusReads = () => sim.requests.filter((q) => q.path.endsWith("/status/current")).length;
    while (statusReads() < 3) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    const stopped = await run;
    expect(stopped).toMatchObject({ code: "INTERRUPTED", exitCode: ExitCode.INTERRUPTED });
    expect(stopped?.message).toContain('Interrupted during step "wait-running"');
    expect(err).toContain("Waiting for proxmox node 100 to run");
    const progress = JSON.parse(await readFile(join(state, "proxmox-web-1.json.steps"), "utf8"));
    expect(progress.steps["wait-running"]).toMatchObject({ status: "interrupted" });
    expect(progress.steps["create-node"]).toMatchObject({ status: "done" });

    reportStopped = false;
    const resumed = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ state: "running", network: { ip: "192.168.3.30" } });
    expect(sim.requests.filter((q) => q.method === "POST" && q.path.endsWith("/clone"))).toHaveLength(1);
  }, 60_000);

  it("--step runs one step; destroy --dry-run lists what it would undo and changes nothing", async () => {
    const unknown = await cli(["deploy", "apply", specPath, "--yes", "--step", "nope", "--state-dir", state]);
    expect(unknown.code).toBe(ExitCode.INVALID_INPUT);
    expect(unknown.stderr).toContain("create-node");
    expect(sim.requests).toHaveLength(0);

    const one = await cli([
      "deploy",
      "apply",
      specPath,
      "--yes",
      "--json",
      "--step",
      "reserve-address",
      "--state-dir",
      state,
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout).steps.map((s: { id: string }) => s.id)).toEqual(["reserve-address"]);
    expect(sim.requests).toHaveLength(0);
    const ledger = JSON.parse(await readFile(join(dir, "ip_pools.state.json"), "utf8"));
    expect(ledger.allocations.map((a: { owner: string }) => a.owner)).toEqual(["deploy/proxmox/web-1"]);

    const preview = await cli(["deploy", "destroy", specPath, "--dry-run", "--json", "--state-dir", state]);
    expect(preview.code, preview.stderr).toBe(0);
    const steps = JSON.parse(preview.stdout).steps as { id: string; undoCalls: { display: string }[] }[];
    expect(steps.map((s) => s.id)).toEqual(["reserve-address"]);
    expect(steps[0]?.undoCalls[0]?.display).toContain("release deploy/proxmox/web-1");
    expect(JSON.parse(await readFile(join(dir, "ip_pools.state.json"), "utf8")).allocations).toHaveLength(1);

    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout)).toMatchObject({ destroyed: null, released: ["192.168.3.30"] });
    expect(sim.requests).toHaveLength(0);
    await expect(stat(join(state, "proxmox-web-1.json.steps"))).rejects.toThrow();
  });
});
