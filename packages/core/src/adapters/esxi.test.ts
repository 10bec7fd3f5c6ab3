import { describe, expect, it } from "vitest";
import { checkDeployment } from "../deploy-rules/check-deployment.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import type { CommandRunner } from "./command-runner.js";
import { EsxiAdapter } from "./esxi.js";
import { startVsphereSim } from "./test-support/vsphere-sim.js";
import type { ResolvedNetwork, ResolvedSpec } from "./types.js";

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

describe("EsxiAdapter against the vSphere REST simulator", () => {
  it("clones a template, sets CPU/memory, hands cloud-init the static network and powers on", async () => {
    const sim = await startVsphereSim({ user: env.VSPHERE_USER, password: env.VSPHERE_PASSWORD });
    try {
      sim.vms.set("vm-42", {
        name: "ubuntu-tmpl",
        power_state: "POWERED_OFF",
        cpu: { count: 2 },
        memory: { size_MiB: 2048 },
        template: true,
      });
      const spec: ResolvedSpec = {
        name: "web1",
        platform: "esxi",
        os: { family: "linux" },
        cores: 4,
        memory_mib: 8192,
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
      const customization = vm?.customization as
        | { spec: { configuration_spec: { cloud_config: { cloudinit: { metadata: string } } } } }
        | undefined;
      const meta = JSON.parse(customization?.spec.configuration_spec.cloud_config.cloudinit.metadata ?? "{}");
      expect(meta.network.ethernets.primary).toMatchObject({
        addresses: ["192.168.3.31/24"],
        routes: [{ to: "default", via: "192.168.3.1" }],
        nameservers: { addresses: ["8.8.8.8", "8.8.4.4"] },
      });
      expect((await adapter.waitUntilRunning(ref, { timeoutMs: 2000, intervalMs: 5 })).addresses).toEqual([
        "192.168.3.31",
      ]);
      await adapter.start(ref); // already on: fine
      await adapter.destroy(ref);
      expect(sim.vms.has(ref.id)).toBe(false);
      expect(await adapter.get(ref)).toBeUndefined();
      // Every call after login carried the session header, never Basic credentials.
      expect(
        sim.requests
          .filter((r) => r.path !== "/api/session")
          .every((r) => r.headers.authorization === undefined && r.headers["vmware-api-session-id"]),
      ).toBe(true);
    } finally {
      await sim.close();
    }
  });

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
