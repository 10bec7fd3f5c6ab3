import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDeployment } from "../deploy-rules/check-deployment.js";
import { hasErrors } from "../deploy-rules/findings.js";
import { parseDeploySpec } from "../deploy-rules/parse-spec.js";
import { resolveDeployNetwork } from "../deploy-rules/resolve-network.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { IpPool } from "../ip-pool/ip-pool.js";
import { seedPoolConfig } from "../ip-pool/test-support/seed-network.js";
import { redact } from "../util/redact.js";
import { ProxmoxAdapter } from "./proxmox.js";
import { startProxmoxSim } from "./test-support/proxmox-sim.js";
import type { ResolvedSpec } from "./types.js";

const LAB_POOLS = seedPoolConfig();

const TOKEN_ID = "labgate@pve!deploy";
const SECRET = "5f0c1e0e-4b1a-4d7e-9c43-0d9b7a1e2f3a";

const seedSpec = (url: string): DeploySpec => {
  const parsed = parseDeploySpec(
    JSON.stringify({
      name: "ubuntu-big",
      platform: "proxmox",
      os: { family: "linux", distro: "ubuntu" },
      cores: 16,
      memory_gib: 32,
      disk_gb: 1000,
      template_id: 9000,
      network: { cidr: "192.168.3.0/24" },
      platform_options: { proxmox: { node: "pve1", url, storage: "local-lvm" } },
    }),
  );
  expect(parsed.findings).toEqual([]);
  return parsed.spec as DeploySpec;
};

describe("ProxmoxAdapter against the Proxmox API simulator", () => {
  let sim: Awaited<ReturnType<typeof startProxmoxSim>>;
  let dir: string;
  const env = { PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET };

  beforeEach(async () => {
    sim = await startProxmoxSim({ tokenId: TOKEN_ID, secret: SECRET, taskPolls: 1 });
    sim.addTemplate(9000, {
      name: "ubuntu-2204-tmpl",
      config: {
        scsi0: "local-lvm:base-9000-disk-0,size=3584M",
        ide2: "local-lvm:vm-9000-cloudinit,media=cdrom",
        boot: "order=scsi0",
        cores: 2,
        memory: 2048,
        net0: "virtio=BC:24:11:00:00:01,bridge=vmbr0",
      },
    });
    sim.addTemplate(9100, {
      name: "win2022-tmpl",
      config: { scsi0: "local-lvm:base-9100-disk-0,size=40G", boot: "order=scsi0", cores: 2, memory: 4096 },
    });
    dir = await mkdtemp(join(tmpdir(), "labgate-pve-"));
  });
  afterEach(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys the seed scenario: a pool address, gateway, mask and DNS reach ipconfig0/nameserver", async () => {
    const spec = seedSpec(sim.url);
    const adapter = new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 });
    const findings = checkDeployment(spec, adapter);
    expect(hasErrors(findings)).toBe(false);
    expect(findings.map((f) => f.code)).toContain("STATIC_ADDRESS_FROM_POOL");

    const pool = new IpPool({ config: LAB_POOLS, statePath: join(dir, "ledger.json") });
    const { spec: resolved, allocation } = await resolveDeployNetwork(spec, "proxmox", pool);
    expect(resolved.resolvedNetwork).toEqual({
      mode: "static",
      ip: "192.168.3.30",
      prefix: 24,
      netmask: "255.255.255.0",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8", "8.8.4.4"],
      source: "pool",
    });
    expect(allocation?.owner).toBe("deploy/proxmox/ubuntu-big");

    const plan = adapter.plan(resolved);
    const configCall = plan.calls.find(
      (c) => c.action === "PUT" && c.target.endsWith("/config") && c.params?.ipconfig0,
    );
    expect(configCall?.params).toMatchObject({
      ipconfig0: "ip=192.168.3.30/24,gw=192.168.3.1",
      nameserver: "8.8.8.8 8.8.4.4",
      cores: 16,
      memory: 32768,
    });

    const ref = await adapter.create(resolved);
    expect(ref).toEqual({ platform: "proxmox", id: "100", name: "ubuntu-big", location: { node: "pve1" } });
    const vm = sim.vms.get(100);
    expect(vm?.config).toMatchObject({
      ipconfig0: "ip=192.168.3.30/24,gw=192.168.3.1",
      nameserver: "8.8.8.8 8.8.4.4",
      cores: 16,
      memory: 32768,
      // A full clone gets its own volume, grown to the spec's size.
      scsi0: "local-lvm:vm-100-disk-0,size=1000G",
    });
    const config = sim.requests.find((r) => r.method === "PUT" && r.path.endsWith("/qemu/100/config"));
    expect(config?.form.ipconfig0).toBe("ip=192.168.3.30/24,gw=192.168.3.1");
    const clone = sim.requests.find((r) => r.path.endsWith("/qemu/9000/clone"));
    expect(clone?.form).toEqual({ newid: "100", name: "ubuntu-big", full: "1", storage: "local-lvm" });
    expect(sim.requests.some((r) => r.path.includes("/tasks/UPID:pve1:") && r.path.endsWith("/status"))).toBe(
      true,
    );
    const resize = sim.requests.find((r) => r.path.endsWith("/resize"));
    expect(resize?.form).toEqual({ disk: "scsi0", size: "1000G" });

    const info = await adapter.waitUntilRunning(ref, { timeoutMs: 5000, intervalMs: 5 });
    expect(info).toMatchObject({ state: "running", addresses: ["192.168.3.30"] });

    await adapter.destroy(ref);
    expect(sim.vms.has(100)).toBe(false);
    expect(await adapter.get(ref)).toBeUndefined();
    await adapter.destroy(ref); // already gone: not an error
  });

  it("moves a Windows template's SCSI disk to sata0 and boots from it", async () => {
    const spec: DeploySpec = {
      name: "win1",
      os: { family: "windows" },
      cores: 4,
      memory_mib: 8192,
      disk_gb: 80,
      template_id: "9100",
      network: { ip: "192.168.2.50", prefix: 24, gateway: "192.168.2.1", dns: ["8.8.8.8"] },
      platform_options: { proxmox: { node: "pve1", url: sim.url, vmid: 123 } },
    };
    const adapter = new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 });
    const { spec: resolved } = await resolveDeployNetwork(spec, "proxmox", undefined);
    await adapter.create(resolved);
    const vm = sim.vms.get(123);
    expect(vm?.config.scsi0).toBeUndefined();
    expect(vm?.config.sata0).toBe("local-lvm:vm-123-disk-0,size=80G");
    expect(vm?.config.boot).toBe("order=sata0");
    expect(vm?.config.ipconfig0).toBe("ip=192.168.2.50/24,gw=192.168.2.1");
    expect(sim.requests.find((r) => r.path.endsWith("/resize"))?.form.disk).toBe("sata0");
  });

  it("keeps a Windows disk larger than disk_gb as it is (Proxmox never shrinks) instead of failing", async () => {
    const spec: DeploySpec = {
      name: "win2",
      os: { family: "windows" },
      cores: 2,
      memory_mib: 4096,
      disk_gb: 30,
      template_id: "9100",
      network: { ip: "192.168.2.51", prefix: 24, gateway: "192.168.2.1", dns: ["8.8.8.8"] },
      platform_options: { proxmox: { node: "pve1", url: sim.url, vmid: 124 } },
    };
    const adapter = new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 });
    const { spec: resolved } = await resolveDeployNetwork(spec, "proxmox", undefined);
    const said: string[] = [];
    await adapter.create(resolved, { onCall: (d) => said.push(d) });
    expect(sim.vms.get(124)?.config.sata0).toBe("local-lvm:vm-124-disk-0,size=40G");
    expect(sim.requests.some((r) => r.path.endsWith("/resize"))).toBe(false);
    expect(said.join("\n")).toContain(
      "below the size of the template's system disk (40 GB): sata0 kept at 40 GB",
    );
  });

  it("treats a task that ends with WARNINGS as done, not failed", async () => {
    await sim.close();
    sim = await startProxmoxSim({ tokenId: TOKEN_ID, secret: SECRET, warnTasks: { qmstart: 1 } });
    sim.addTemplate(9000, { config: { scsi0: "local-lvm:base-9000-disk-0,size=3G", boot: "order=scsi0" } });
    const spec = seedSpec(sim.url);
    const adapter = new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 });
    const { spec: resolved } = await resolveDeployNetwork(
      spec,
      "proxmox",
      new IpPool({ config: LAB_POOLS, statePath: join(dir, "w.json") }),
    );
    const ref = await adapter.create(resolved);
    expect(sim.vms.get(Number(ref.id))?.status).toBe("running");
  });

  it("refuses a token id that is not USER@REALM!TOKENID before any request", async () => {
    const spec = seedSpec(sim.url);
    const adapter = new ProxmoxAdapter({
      spec,
      env: { PROXMOX_TOKEN_ID: "deploy", PROXMOX_TOKEN_SECRET: SECRET },
    });
    await expect(adapter.get({ platform: "proxmox", id: "100", name: "x" })).rejects.toMatchObject({
      code: "PLATFORM_CREDENTIALS_INVALID",
      exitCode: 4,
    });
    expect(sim.requests).toHaveLength(0);
  });

  it("rejects a bad token with PLATFORM_AUTH_FAILED and never prints the secret", async () => {
    const spec = seedSpec(sim.url);
    const adapter = new ProxmoxAdapter({
      spec,
      env: { PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: "wrong-secret-value" },
      pollIntervalMs: 5,
    });
    const { spec: resolved } = await resolveDeployNetwork(
      spec,
      "proxmox",
      new IpPool({ config: LAB_POOLS, statePath: join(dir, "l.json") }),
    );
    const error = await adapter.create(resolved).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PLATFORM_AUTH_FAILED", status: 401 });
    expect(redact(JSON.stringify((error as Error).message))).not.toContain("wrong-secret-value");
  });

  it("reports a failed clone task with its exit status", async () => {
    await sim.close();
    sim = await startProxmoxSim({
      tokenId: TOKEN_ID,
      secret: SECRET,
      failTasks: { qmclone: "can't allocate space in storage local-lvm" },
    });
    sim.addTemplate(9000, { config: { scsi0: "local-lvm:base-9000-disk-0,size=3G" } });
    const spec = seedSpec(sim.url);
    const adapter = new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 });
    const { spec: resolved } = await resolveDeployNetwork(
      spec,
      "proxmox",
      new IpPool({ config: LAB_POOLS, statePath: join(dir, "l.json") }),
    );
    await expect(adapter.create(resolved)).rejects.toMatchObject({
      code: "PLATFORM_TASK_FAILED",
      message: expect.stringContaining("can't allocate space"),
    });
  });

  it("surfaces Proxmox's parameter errors and missing VMs", async () => {
    const spec = seedSpec(sim.url);
    const adapter = new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 });
    const { spec: resolved } = await resolveDeployNetwork(
      { ...spec, template_id: "9999" },
      "proxmox",
      undefined,
    ).catch(() => ({ spec: undefined }));
    expect(resolved).toBeUndefined(); // no pool, no address: refused before any call
    const { spec: r2 } = await resolveDeployNetwork(
      {
        ...spec,
        template_id: "9999",
        network: { ip: "192.168.3.77", prefix: 24, gateway: "192.168.3.1", dns: ["8.8.8.8"] },
      },
      "proxmox",
      undefined,
    );
    await expect(adapter.create(r2)).rejects.toMatchObject({ code: "PLATFORM_NOT_FOUND" });
    // A clone whose configuration fails is removed again: nothing half-made is left behind.
    await expect(adapter.create({ ...r2, template_id: "9000", cores: 1.5 })).rejects.toMatchObject({
      code: "PLATFORM_BAD_REQUEST",
      message: expect.stringContaining("cores"),
    });
    expect(sim.vms.has(100)).toBe(false);
  });

  it("needs a template, a node and integer VMIDs", () => {
    const adapter = new ProxmoxAdapter({ env: {} });
    const spec: DeploySpec = {
      name: "x",
      os: { family: "linux" },
      cores: 1,
      memory_mib: 512,
      network: { cidr: "192.168.3.0/24" },
    };
    expect(
      adapter
        .validate(spec)
        .map((f) => f.code)
        .sort(),
    ).toEqual(["PLATFORM_OPTION_MISSING", "PLATFORM_OPTION_MISSING", "PROXMOX_TEMPLATE_REQUIRED"]);
    expect(adapter.validate({ ...spec, template_id: "ubuntu" }).map((f) => f.code)).toContain(
      "PROXMOX_TEMPLATE_ID",
    );
  });
});

describe("ProxmoxAdapter as Proxmox behaves: the nextid race and task locks", () => {
  const env = { PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET };
  const start = async (extra: Partial<Parameters<typeof startProxmoxSim>[0]> = {}) => {
    const sim = await startProxmoxSim({ tokenId: TOKEN_ID, secret: SECRET, taskPolls: 1, ...extra });
    sim.addTemplate(9000, {
      name: "ubuntu-2204-tmpl",
      config: { scsi0: "local-lvm:base-9000-disk-0,size=10G", boot: "order=scsi0", cores: 2, memory: 2048 },
    });
    return sim;
  };
  const resolvedFor = (url: string, name: string, options: Record<string, unknown> = {}): ResolvedSpec => ({
    name,
    platform: "proxmox",
    os: { family: "linux" },
    cores: 2,
    memory_mib: 2048,
    template_id: "9000",
    network: { cidr: "192.168.3.0/24" },
    resolvedNetwork: {
      mode: "static",
      ip: "192.168.3.31",
      prefix: 24,
      netmask: "255.255.255.0",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8"],
      source: "pool",
    },
    platform_options: { proxmox: { node: "pve1", url, ...options } },
  });

  for (const mode of ["check", "task"] as const) {
    it(`retries with a fresh VMID when another deployment took nextid's answer (${mode === "check" ? "refused at the clone call" : "failed inside the clone task"})`, async () => {
      const sim = await start({ competingClones: { mode, count: 1 } });
      try {
        const said: string[] = [];
        const adapter = new ProxmoxAdapter({ spec: resolvedFor(sim.url, "any"), env, pollIntervalMs: 5 });
        const ref = await adapter.create(resolvedFor(sim.url, "web1"), { onCall: (d) => said.push(d) });
        expect(ref.id).toBe("101");
        expect(sim.vms.get(101)?.name).toBe("web1");
        // The other deployment's VM is left alone.
        expect(sim.vms.get(100)?.name).toBe("other-deployment");
        expect(said.some((d) => d.includes("VMID 100 was taken by another deployment"))).toBe(true);
        expect(sim.requests.filter((r) => r.path.endsWith("/cluster/nextid"))).toHaveLength(2);
      } finally {
        await sim.close();
      }
    });
  }

  it("never replaces a VMID the user chose, and two deploys at once both end up with their own VM", async () => {
    const sim = await start();
    try {
      sim.vms.set(100, { name: "taken", template: false, status: "stopped", config: {} });
      const adapter = new ProxmoxAdapter({ spec: resolvedFor(sim.url, "any"), env, pollIntervalMs: 5 });
      await expect(adapter.create(resolvedFor(sim.url, "web1", { vmid: "100" }))).rejects.toMatchObject({
        message: expect.stringContaining("VM 100 already exists on node 'pve1'"),
      });
      expect(sim.vms.get(100)?.name).toBe("taken");
      sim.vms.delete(100);
      const [a, b] = await Promise.all([
        new ProxmoxAdapter({ spec: resolvedFor(sim.url, "any"), env, pollIntervalMs: 5 }).create(
          resolvedFor(sim.url, "web1"),
        ),
        new ProxmoxAdapter({ spec: resolvedFor(sim.url, "any"), env, pollIntervalMs: 5 }).create(
          resolvedFor(sim.url, "web2"),
        ),
      ]);
      expect(new Set([a.id, b.id]).size).toBe(2);
      expect(sim.vms.get(Number(a.id))?.name).toBe("web1");
      expect(sim.vms.get(Number(b.id))?.name).toBe("web2");
    } finally {
      await sim.close();
    }
  });

  it("takes a backup or migrate lock as pending: waits pass through it, destroy waits for it instead of failing", async () => {
    const sim = await start();
    try {
      const adapter = new ProxmoxAdapter({ spec: resolvedFor(sim.url, "any"), env, pollIntervalMs: 5 });
      const ref = await adapter.create(resolvedFor(sim.url, "web1"));
      sim.holdLock(Number(ref.id), "backup", 3);
      expect(await adapter.get(ref)).toMatchObject({ state: "pending", rawState: "running (lock: backup)" });
      const info = await adapter.waitUntilRunning(ref, { timeoutMs: 5000, intervalMs: 5 });
      expect(info).toMatchObject({ state: "running", rawState: "running" });

      sim.holdLock(Number(ref.id), "migrate", 4);
      await adapter.destroy(ref);
      expect(sim.vms.has(Number(ref.id))).toBe(false);
      // Without the wait, the stop and the delete would have been refused while the task held the lock.
      expect(sim.requests.filter((r) => r.method === "POST" && r.path.endsWith("/status/stop"))).toHaveLength(
        1,
      );

      // "suspended" is a resting state (hibernated), not a task in flight.
      const parked = await adapter.create(resolvedFor(sim.url, "web2"));
      const vm = sim.vms.get(Number(parked.id));
      if (vm) {
        vm.status = "stopped";
        vm.config.lock = "suspended";
      }
      expect((await adapter.get(parked))?.state).toBe("stopped");
    } finally {
      await sim.close();
    }
  });
});
