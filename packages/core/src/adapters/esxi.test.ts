import { describe, expect, it } from "vitest";
import { checkDeployment } from "../deploy-rules/check-deployment.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import type { CommandRunner } from "./command-runner.js";
import { EsxiAdapter } from "./esxi.js";
import { HttpJsonClient } from "./http-json.js";
import { startVsphereSim } from "./test-support/vsphere-sim.js";
import { addUbuntuTemplate } from "./test-support/vsphere-template.js";
import type { ResolvedNetwork, ResolvedSpec } from "./types.js";
import { VimJsonClient } from "./vsphere-vim.js";

const env = { VSPHERE_USER: "administrator@vsphere.local", VSPHERE_PASSWORD: "Lab-Passw0rd!" };
const net = {
  mode: "static",
  ip: "192.168.3.31",
  prefix: 24,
  netmask: "255.255.255.0",
  gateway: "192.168.3.1",
  dns: ["8.8.8.8", "8.8.4.4"],
  source: "pool",
} satisfies ResolvedNetwork as ResolvedNetwork;

/** Runs `body` against a vSphere simulator that accepts `env`'s credentials, and stops it afterwards. */
async function withVsphereSim(
  body: (sim: Awaited<ReturnType<typeof startVsphereSim>>) => Promise<void>,
): Promise<void> {
  const sim = await startVsphereSim({ user: env.VSPHERE_USER, password: env.VSPHERE_PASSWORD });
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

describe("EsxiAdapter against the vSphere REST simulator", () => {
  it("clones a template, sets CPU/memory, puts the static network into guestinfo, grows the disk, powers on", () =>
    withVsphereSim(async (sim) => {
      addUbuntuTemplate(sim.vms, {
        disks: new Map([
          [
            "2000",
            {
              type: "SCSI",
              vmdk_file: "[datastore1] ubuntu-tmpl/ubuntu-tmpl.vmdk",
              capacityBytes: 10 * 1024 ** 3,
            },
          ],
        ]),
      });
      const spec: ResolvedSpec = {
        name: "web1",
        platform: "esxi",
        os: { family: "linux" },
        cores: 4,
        memory_mib: 8192,
        disk_gb: 50,
        template_id: "vm-42",
        network: { cidr: "192.168.3.0/24" },
        resolvedNetwork: net,
        platform_options: {
          esxi: {
            url: sim.url,
            resource_pool: "resgroup-9",
            folder: "group-v4",
            datastore_id: "datastore-11",
          },
        },
      };
      const adapter = new EsxiAdapter({ spec, env, pollIntervalMs: 5 });
      expect(checkDeployment(spec, adapter).map((f) => f.code)).not.toContain("ESXI_CLONE_DISK_SIZE");
      const plan = adapter.plan(spec);
      expect(plan.calls.map((c) => `${c.action} ${c.target}`)).toContain(
        "POST /sdk/vim25/8.0.1.0/VirtualMachine/{vm}/ReconfigVM_Task",
      );
      expect(plan.calls.every((c) => c.kind === "http")).toBe(true); // nothing shown that create does not do
      const ref = await adapter.create(spec);
      const vm = sim.vms.get(ref.id);
      expect(vm).toMatchObject({
        name: "web1",
        cpu: { count: 4 },
        memory: { size_MiB: 8192 },
        power_state: "POWERED_ON",
      });
      const clone = sim.requests.find(
        (r) => r.path === "/api/vcenter/vm" && r.query.get("action") === "clone",
      );
      expect(clone?.json).toEqual({
        name: "web1",
        source: "vm-42",
        placement: { folder: "group-v4", resource_pool: "resgroup-9", datastore: "datastore-11" },
        power_on: false,
      });
      expect(vm?.customization).toBeUndefined();
      expect(vm?.extraConfig).toMatchObject({
        "guestinfo.metadata.encoding": "base64",
        "guestinfo.userdata.encoding": "base64",
      });
      const decode = (k: string) => Buffer.from(vm?.extraConfig?.[k] ?? "", "base64").toString("utf8");
      expect(decode("guestinfo.userdata")).toMatch(/^#cloud-config\n/);
      const meta = JSON.parse(decode("guestinfo.metadata"));
      expect(meta).toMatchObject({ "instance-id": "labgate-web1", "local-hostname": "web1" });
      expect(vm?.disks?.get("2000")).toMatchObject({
        capacityBytes: 50 * 1024 ** 3,
        vmdk_file: "[datastore1] web1/web1.vmdk",
      });
      // The reconfiguration ran as a task that was polled to the end.
      const taskPolls = sim.requests.filter((r) =>
        /^\/sdk\/vim25\/8\.0\.1\.0\/Task\/task-\d+\/info$/.test(r.path),
      );
      expect(taskPolls.length).toBeGreaterThanOrEqual(4);
      expect(meta.network.ethernets.primary).toMatchObject({
        addresses: ["192.168.3.31/24"],
        routes: [{ to: "0.0.0.0/0", via: "192.168.3.1" }],
        nameservers: { addresses: ["8.8.8.8", "8.8.4.4"] },
      });
      expect((await adapter.waitUntilRunning(ref, { timeoutMs: 2000, intervalMs: 5 })).addresses).toEqual([
        "192.168.3.31",
      ]);
      await adapter.start(ref); // already on: fine
      await adapter.destroy(ref);
      expect(sim.vms.has(ref.id)).toBe(false);
      expect(await adapter.get(ref)).toBeUndefined();
      // Every call after login carried the session header, never Basic credentials or the password.
      const open = [
        "/api/session",
        "/sdk/vim25/8.0.1.0/ServiceInstance/ServiceInstance/content",
        "/sdk/vim25/8.0.1.0/SessionManager/SessionManager/Login",
      ];
      expect(
        sim.requests
          .filter((r) => !open.includes(r.path))
          .every((r) => r.headers.authorization === undefined && r.headers["vmware-api-session-id"]),
      ).toBe(true);
      expect(sim.requests.filter((r) => r.raw.includes(env.VSPHERE_PASSWORD)).map((r) => r.path)).toEqual([
        "/sdk/vim25/8.0.1.0/SessionManager/SessionManager/Login",
      ]);
    }));

  it("moves a Windows clone's SCSI system disk to SATA and boots from it", () =>
    withVsphereSim(async (sim) => {
      sim.vms.set("vm-50", {
        name: "win-tmpl",
        power_state: "POWERED_OFF",
        cpu: { count: 2 },
        memory: { size_MiB: 4096 },
        template: true,
        disks: new Map([
          [
            "2000",
            { type: "SCSI", vmdk_file: "[ds1] win-tmpl/win-tmpl.vmdk", capacityBytes: 40 * 1024 ** 3 },
          ],
        ]),
      });
      const spec: ResolvedSpec = {
        name: "win1",
        platform: "esxi",
        os: { family: "windows" },
        cores: 2,
        memory_mib: 4096,
        disk_gb: 30,
        template_id: "vm-50",
        network: { cidr: "192.168.3.0/24" },
        resolvedNetwork: net,
        platform_options: { esxi: { url: sim.url, resource_pool: "resgroup-9" } },
      };
      const adapter = new EsxiAdapter({ spec, env, pollIntervalMs: 5 });
      expect(adapter.plan(spec).calls.map((c) => c.target)).toContain(
        "/api/vcenter/vm/{vm}/hardware/boot/device",
      );
      const said: string[] = [];
      const ref = await adapter.create(spec, { onCall: (d) => said.push(d) });
      const vm = sim.vms.get(ref.id);
      const disks = [...(vm?.disks ?? new Map()).entries()];
      expect(disks).toHaveLength(1);
      const [id, disk] = disks[0] as [string, { type: string; vmdk_file: string; capacityBytes: number }];
      expect(disk).toMatchObject({ type: "SATA", vmdk_file: "[ds1] win1/win1.vmdk" });
      expect(vm?.bootDisks).toEqual([id]);
      expect(vm?.sataAdapters).toHaveLength(1);
      expect(vm?.power_state).toBe("POWERED_ON");
      // disk_gb below the template's size: kept, never shrunk.
      expect(said).toContain("disk already 30 GB or larger: kept (never shrunk)");
    }));

  it("uses guest customization instead when asked (vCenter before 8.0U1)", () =>
    withVsphereSim(async (sim) => {
      sim.vms.set("vm-42", {
        name: "t",
        power_state: "POWERED_OFF",
        cpu: { count: 1 },
        memory: { size_MiB: 1024 },
      });
      const spec: ResolvedSpec = {
        name: "old1",
        platform: "esxi",
        os: { family: "linux" },
        cores: 1,
        memory_mib: 1024,
        disk_gb: 20,
        template_id: "vm-42",
        network: {},
        resolvedNetwork: net,
        platform_options: { esxi: { url: sim.url, guest_config: "customization" } },
      };
      const adapter = new EsxiAdapter({ spec, env, pollIntervalMs: 5 });
      expect(checkDeployment(spec, adapter).map((f) => f.code)).toContain("ESXI_CLONE_DISK_SIZE");
      const ref = await adapter.create(spec);
      const customization = sim.vms.get(ref.id)?.customization as {
        spec: { configuration_spec: { cloud_config: { cloudinit: { metadata: string } } } };
      };
      expect(
        JSON.parse(customization.spec.configuration_spec.cloud_config.cloudinit.metadata).network,
      ).toBeDefined();
      expect(sim.requests.some((r) => r.path.startsWith("/sdk/"))).toBe(false);
      expect(
        adapter
          .validate({ ...spec, platform_options: { esxi: { url: sim.url, guest_config: "ovf" } } })
          .map((f) => f.code),
      ).toContain("ESXI_GUEST_CONFIG_INVALID");
    }));

  it("without VI/JSON (older vCenter) fails with the way out, and removes the half-made clone", () =>
    withVsphereSim(async (sim) => {
      sim.vms.set("vm-42", {
        name: "t",
        power_state: "POWERED_OFF",
        cpu: { count: 1 },
        memory: { size_MiB: 1024 },
      });
      const spec: ResolvedSpec = {
        name: "x1",
        platform: "esxi",
        os: { family: "linux" },
        cores: 1,
        memory_mib: 1024,
        template_id: "vm-42",
        network: {},
        resolvedNetwork: net,
        // The simulator, like vCenter 8.0U1+, serves no VI/JSON release 7.0.3.0.
        platform_options: { esxi: { url: sim.url, vim_release: "7.0.3.0" } },
      };
      const error = await new EsxiAdapter({ spec, env, pollIntervalMs: 5 })
        .create(spec)
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: "PLATFORM_NOT_FOUND",
        hint: expect.stringContaining('"customization"'),
      });
      expect([...sim.vms.values()].map((v) => v.name)).toEqual(["t"]);
    }));

  it("VI/JSON: a wrong password is PLATFORM_AUTH_FAILED, a failed task PLATFORM_TASK_FAILED", () =>
    withVsphereSim(async (sim) => {
      sim.vms.set("vm-7", {
        name: "v",
        power_state: "POWERED_OFF",
        cpu: { count: 1 },
        memory: { size_MiB: 1024 },
        disks: new Map([
          ["2000", { type: "SCSI", vmdk_file: "[ds] v/v.vmdk", capacityBytes: 8 * 1024 ** 3 }],
        ]),
      });
      const http = new HttpJsonClient({ baseUrl: sim.url, platform: "esxi" });
      const wrong = new VimJsonClient(http, () => [env.VSPHERE_USER, "not-the-password"]);
      await expect(wrong.setExtraConfig("vm-7", { "guestinfo.x": "1" })).rejects.toMatchObject({
        code: "PLATFORM_AUTH_FAILED",
        message: expect.stringContaining("InvalidLogin"),
      });
      const vim = new VimJsonClient(http, () => [env.VSPHERE_USER, env.VSPHERE_PASSWORD]);
      await expect(vim.setExtraConfig("vm-404", { "guestinfo.x": "1" })).rejects.toMatchObject({
        code: "PLATFORM_NOT_FOUND",
      });
      // Shrinking is refused by vSphere as a task error; growBootDisk never asks for it, so edit by hand.
      (sim.vms.get("vm-7")?.disks?.get("2000") as { capacityBytes: number }).capacityBytes = 100 * 1024 ** 3;
      expect(await vim.growBootDisk("vm-7", 50, { intervalMs: 5 })).toBe("kept");
      expect(await vim.growBootDisk("vm-7", 120, { intervalMs: 5 })).toBe("grown");
      expect(sim.vms.get("vm-7")?.disks?.get("2000")?.capacityBytes).toBe(120 * 1024 ** 3);
    }));

  it("fails login with PLATFORM_AUTH_FAILED", async () => {
    const sim = await startVsphereSim({ user: "a", password: "right-password" });
    try {
      const adapter = new EsxiAdapter({
        env: { VSPHERE_USER: "a", VSPHERE_PASSWORD: "wrong-password" },
        overrides: { url: sim.url },
      });
      await expect(adapter.get({ platform: "esxi", id: "vm-1", name: "x" })).rejects.toMatchObject({
        code: "PLATFORM_AUTH_FAILED",
      });
    } finally {
      await sim.close();
    }
  });

  it("imports a qcow2 cloud image: qemu-img monolithicFlat, seed ISO, vmkfstools -i, SATA disk for Windows", async () => {
    const sim = await startVsphereSim({ user: env.VSPHERE_USER, password: env.VSPHERE_PASSWORD });
    const ran: { where: string; argv: readonly string[] }[] = [];
    const puts: string[] = [];
    const runner: CommandRunner = {
      async run(where, argv) {
        ran.push({ where, argv });
        return "";
      },
      async put(_local, remote) {
        puts.push(remote);
      },
      async close() {},
    };
    try {
      const base: DeploySpec = {
        name: "img1",
        os: { family: "linux" },
        cores: 2,
        memory_mib: 2048,
        disk_gb: 40,
        image: { source: "/images/jammy.qcow2", format: "qcow2" },
        network: { cidr: "192.168.3.0/24" },
        platform_options: {
          esxi: {
            url: sim.url,
            datastore: "datastore1",
            datastore_id: "datastore-11",
            resource_pool: "resgroup-9",
            folder: "group-v4",
            ssh_host: "esxi1",
            ssh_key: "/root/.ssh/id_ed25519",
            network: "network-13",
          },
        },
      };
      const adapter = new EsxiAdapter({ spec: base, env, runner });
      const findings = checkDeployment(base, adapter).map((f) => f.code);
      expect(findings).toContain("IMAGE_NEEDS_CONVERSION");
      const spec: ResolvedSpec = { ...base, platform: "esxi", resolvedNetwork: net };
      const plan = adapter.plan(spec);
      const text = plan.calls.map((c) => c.target).join("\n");
      expect(text).toContain(
        "qemu-img convert -f qcow2 -O vmdk -o subformat=monolithicFlat /images/jammy.qcow2",
      );
      expect(text).toContain(
        "vmkfstools -i /vmfs/volumes/datastore1/img1/img1-src.vmdk -d thin /vmfs/volumes/datastore1/img1/img1.vmdk",
      );
      expect(text).toContain("genisoimage");
      expect(text).toContain("-volid cidata");

      const ref = await adapter.create(spec);
      expect(ran.map((r) => r.argv[0])).toEqual([
        "qemu-img",
        "genisoimage",
        "mkdir",
        "vmkfstools",
        "vmkfstools",
        "vmkfstools",
      ]);
      expect(ran.filter((r) => r.where === "host").map((r) => r.argv[0])).toEqual([
        "mkdir",
        "vmkfstools",
        "vmkfstools",
        "vmkfstools",
      ]);
      expect(puts).toEqual([
        "/vmfs/volumes/datastore1/img1/img1-src.vmdk",
        "/vmfs/volumes/datastore1/img1/img1-src-flat.vmdk",
        "/vmfs/volumes/datastore1/img1/seed.iso",
      ]);
      const created = sim.vms.get(ref.id)?.spec as {
        disks: { type: string; backing: { vmdk_file: string } }[];
        cdroms: { backing: { iso_file: string } }[];
      };
      expect(created.disks[0]).toMatchObject({
        type: "SCSI",
        backing: { vmdk_file: "[datastore1] img1/img1.vmdk" },
      });
      expect(created.cdroms[0]?.backing.iso_file).toBe("[datastore1] img1/seed.iso");

      const win = new EsxiAdapter({ spec: base, env, runner }).plan({ ...spec, os: { family: "windows" } });
      const body = win.calls.find((c) => c.target === "/api/vcenter/vm")?.params as {
        disks: { type: string; sata?: unknown }[];
      };
      expect(body.disks[0]).toMatchObject({ type: "SATA", sata: { bus: 0, unit: 0 } });
    } finally {
      await sim.close();
    }
  });
});

describe("EsxiAdapter as vCenter behaves: network backings, the boot disk, vCenter only", () => {
  const recordingRunner = (): CommandRunner => ({
    async run() {
      return "";
    },
    async put() {},
    async close() {},
  });
  const importSpec = (url: string, network: string): DeploySpec => ({
    name: "img2",
    os: { family: "linux" },
    cores: 2,
    memory_mib: 2048,
    image: { source: "/images/jammy.qcow2", format: "qcow2" },
    network: { cidr: "192.168.3.0/24" },
    platform_options: {
      esxi: {
        url,
        datastore: "datastore1",
        datastore_id: "datastore-11",
        resource_pool: "resgroup-9",
        folder: "group-v4",
        ssh_host: "esxi1",
        ssh_key: "/root/.ssh/id_ed25519",
        network,
      },
    },
  });

  it("attaches a dvportgroup-* network with DISTRIBUTED_PORTGROUP backing, created or cloned (vCenter refuses STANDARD_PORTGROUP)", () =>
    withVsphereSim(async (sim) => {
      const base = importSpec(sim.url, "dvportgroup-21");
      const adapter = new EsxiAdapter({ spec: base, env, runner: recordingRunner() });
      const ref = await adapter.create({ ...base, platform: "esxi", resolvedNetwork: net });
      const created = sim.vms.get(ref.id)?.spec as { nics: { backing: unknown }[] };
      expect(created.nics[0]?.backing).toEqual({ type: "DISTRIBUTED_PORTGROUP", network: "dvportgroup-21" });
      const opaque = new EsxiAdapter({
        spec: importSpec(sim.url, "network-o25"),
        env,
        runner: recordingRunner(),
      });
      const plan = opaque.plan({
        ...importSpec(sim.url, "network-o25"),
        platform: "esxi",
        resolvedNetwork: net,
      });
      expect(plan.calls.find((c) => c.target === "/api/vcenter/vm")?.params?.nics).toMatchObject([
        { backing: { type: "OPAQUE_NETWORK", network: "network-o25" } },
      ]);
      // A clone keeps the template's NIC but moves it to the spec's network, with the matching backing.
      sim.vms.set("vm-60", {
        name: "tmpl-nic",
        power_state: "POWERED_OFF",
        cpu: { count: 2 },
        memory: { size_MiB: 2048 },
        template: true,
        disks: new Map([
          ["2000", { type: "SCSI", vmdk_file: "[ds1] t/t.vmdk", capacityBytes: 10 * 1024 ** 3 }],
        ]),
        nics: new Map([["4000", { type: "STANDARD_PORTGROUP", network: "network-13" }]]),
      });
      const cloneSpec: ResolvedSpec = {
        name: "web8",
        platform: "esxi",
        os: { family: "linux" },
        cores: 2,
        memory_mib: 2048,
        template_id: "vm-60",
        network: { cidr: "192.168.3.0/24" },
        resolvedNetwork: net,
        platform_options: {
          esxi: { url: sim.url, resource_pool: "resgroup-9", folder: "group-v4", network: "dvportgroup-21" },
        },
      };
      const cloner = new EsxiAdapter({ spec: cloneSpec, env, pollIntervalMs: 5 });
      expect(
        cloner.plan(cloneSpec).calls.find((c) => c.target.includes("/hardware/ethernet/"))?.params,
      ).toEqual({
        backing: { type: "DISTRIBUTED_PORTGROUP", network: "dvportgroup-21" },
      });
      const cloned = await cloner.create(cloneSpec);
      expect(sim.vms.get(cloned.id)?.nics?.get("4000")).toEqual({
        type: "DISTRIBUTED_PORTGROUP",
        network: "dvportgroup-21",
      });
      expect(sim.vms.get("vm-60")?.nics?.get("4000")?.network).toBe("network-13");
      // A port group name instead of its id is caught by deploy check, before any call.
      expect(adapter.validate(importSpec(sim.url, "VM Network")).map((f) => f.code)).toContain(
        "ESXI_NETWORK_ID",
      );
    }));

  it("grows the disk the template boots from, not a data disk listed before it", () =>
    withVsphereSim(async (sim) => {
      sim.vms.set("vm-50", {
        name: "tmpl-data-first",
        power_state: "POWERED_OFF",
        cpu: { count: 2 },
        memory: { size_MiB: 2048 },
        template: true,
        disks: new Map([
          ["2000", { type: "SCSI", vmdk_file: "[ds1] tmpl/tmpl_data.vmdk", capacityBytes: 5 * 1024 ** 3 }],
          ["2001", { type: "SCSI", vmdk_file: "[ds1] tmpl/tmpl.vmdk", capacityBytes: 10 * 1024 ** 3 }],
        ]),
        bootDisks: ["2001"],
      });
      const spec: ResolvedSpec = {
        name: "web9",
        platform: "esxi",
        os: { family: "linux" },
        cores: 2,
        memory_mib: 2048,
        disk_gb: 40,
        template_id: "vm-50",
        network: { cidr: "192.168.3.0/24" },
        resolvedNetwork: net,
        platform_options: { esxi: { url: sim.url, resource_pool: "resgroup-9", folder: "group-v4" } },
      };
      const adapter = new EsxiAdapter({ spec, env, pollIntervalMs: 5 });
      const ref = await adapter.create(spec);
      const disks = sim.vms.get(ref.id)?.disks;
      expect(disks?.get("2001")?.capacityBytes).toBe(40 * 1024 ** 3);
      expect(disks?.get("2000")?.capacityBytes).toBe(5 * 1024 ** 3);

      // Without a boot order the disk at the lowest controller and unit is the boot disk.
      const vim = new VimJsonClient(new HttpJsonClient({ baseUrl: sim.url, platform: "esxi" }), () => [
        env.VSPHERE_USER,
        env.VSPHERE_PASSWORD,
      ]);
      const clone = sim.vms.get(ref.id);
      if (clone) clone.bootDisks = [];
      expect(await vim.growBootDisk(ref.id, 60, { intervalMs: 5 })).toBe("grown");
      expect(disks?.get("2000")?.capacityBytes).toBe(60 * 1024 ** 3);
    }));

  it("says it needs vCenter: an info finding in deploy check, ESXI_NEEDS_VCENTER (exit 4) against a bare ESXi host", async () => {
    const sim = await startVsphereSim({
      user: env.VSPHERE_USER,
      password: env.VSPHERE_PASSWORD,
      standaloneEsxi: true,
    });
    try {
      const base = importSpec(sim.url, "network-13");
      const adapter = new EsxiAdapter({ spec: base, env, runner: recordingRunner() });
      expect(adapter.validate(base).find((f) => f.code === "ESXI_NEEDS_VCENTER")).toMatchObject({
        severity: "info",
        message: expect.stringContaining("vCenter"),
      });
      await expect(adapter.get({ platform: "esxi", id: "vm-1", name: "x" })).rejects.toMatchObject({
        code: "ESXI_NEEDS_VCENTER",
        exitCode: 4,
        message: expect.stringContaining("POST /api/session answered 404"),
      });
      const vim = new VimJsonClient(new HttpJsonClient({ baseUrl: sim.url, platform: "esxi" }), () => [
        env.VSPHERE_USER,
        env.VSPHERE_PASSWORD,
      ]);
      await expect(vim.setExtraConfig("vm-1", { "guestinfo.x": "1" })).rejects.toMatchObject({
        code: "ESXI_NEEDS_VCENTER",
        message: expect.stringContaining("HostAgent"),
      });
    } finally {
      await sim.close();
    }
  });
});
