import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createAdapter } from "../adapters/registry.js";
import { IpPool } from "../ip-pool/ip-pool.js";
import { seedPoolConfig } from "../ip-pool/test-support/seed-network.js";
import { checkDeployment } from "./check-deployment.js";
import { parseDeploySpec } from "./parse-spec.js";
import { resolveDeployNetwork } from "./resolve-network.js";
import type { DeploySpec, PlatformName } from "./spec.js";
import { PLATFORM_OPTIONS } from "./test-support/platform-options.js";

const POOLS = seedPoolConfig();

const OPTIONS = PLATFORM_OPTIONS;

const base = (platform: PlatformName, over: Partial<DeploySpec> = {}): DeploySpec => ({
  name: "vm1",
  os: { family: "linux", distro: "ubuntu" },
  cores: 2,
  memory_mib: 2048,
  template_id: platform === "esxi" ? "vm-42" : "9000",
  network: { cidr: "192.168.3.0/24" },
  platform_options: OPTIONS,
  ...over,
});

const local = (over: Partial<DeploySpec> = {}): DeploySpec => ({
  ...base("local"),
  template_id: undefined,
  network: {},
  ...over,
});

// [case, platform, spec, codes that must appear, codes that must not appear]
const CASES: [string, PlatformName, DeploySpec, string[], string[]][] = [
  [
    "on-prem without address takes one from the pool",
    "proxmox",
    base("proxmox"),
    ["STATIC_ADDRESS_FROM_POOL"],
    ["STATIC_ADDRESS_REQUIRED"],
  ],
  [
    "on-prem with neither ip nor cidr is refused",
    "proxmox",
    base("proxmox", { network: {} }),
    ["STATIC_ADDRESS_REQUIRED"],
    [],
  ],
  [
    "esxi without ip or cidr is refused",
    "esxi",
    base("esxi", { network: {} }),
    ["STATIC_ADDRESS_REQUIRED"],
    [],
  ],
  [
    "opennebula bridged (dhcp:false) without address is refused",
    "opennebula",
    base("opennebula", { network: { dhcp: false } }),
    ["STATIC_ADDRESS_REQUIRED"],
    [],
  ],
  [
    "lxd bridged without address is refused",
    "lxd",
    base("lxd", { network: { attach: "br0" } }),
    ["STATIC_ADDRESS_REQUIRED"],
    [],
  ],
  [
    "lxd managed bridge with dhcp:true is fine",
    "lxd",
    base("lxd", { network: { attach: "lxdbr0", dhcp: true }, image: { ref: "ubuntu/22.04" } }),
    ["NETWORK_DHCP"],
    ["STATIC_ADDRESS_REQUIRED"],
  ],
  [
    "proxmox dhcp:true is warned about",
    "proxmox",
    base("proxmox", { network: { dhcp: true } }),
    ["ON_PREM_DHCP_ASSUMED"],
    [],
  ],
  [
    "static ip without gateway/dns is completed from the pool",
    "proxmox",
    base("proxmox", { network: { ip: "192.168.3.99" } }),
    ["STATIC_NETWORK_INCOMPLETE"],
    [],
  ],
  [
    "ip outside the cidr",
    "proxmox",
    base("proxmox", { network: { cidr: "192.168.3.0/24", ip: "192.168.2.5" } }),
    ["NETWORK_IP_OUTSIDE_SUBNET"],
    [],
  ],
  [
    "gateway outside the cidr",
    "proxmox",
    base("proxmox", { network: { cidr: "192.168.3.0/24", gateway: "192.168.2.1" } }),
    ["NETWORK_GATEWAY_OUTSIDE_SUBNET"],
    [],
  ],
  [
    "prefix and netmask disagree",
    "proxmox",
    base("proxmox", {
      network: {
        ip: "192.168.3.9",
        prefix: 24,
        netmask: "255.255.0.0",
        gateway: "192.168.3.1",
        dns: ["8.8.8.8"],
      },
    }),
    ["NETWORK_MASK_MISMATCH"],
    [],
  ],
  [
    "windows on proxmox gets sata0",
    "proxmox",
    base("proxmox", { os: { family: "windows" } }),
    ["WINDOWS_DISK_SATA"],
    ["WINDOWS_NO_TEMPLATE"],
  ],
  [
    "windows on esxi with pvscsi is refused",
    "esxi",
    base("esxi", {
      os: { family: "windows" },
      platform_options: { ...OPTIONS, esxi: { ...OPTIONS.esxi, disk_bus: "pvscsi" } },
    }),
    ["WINDOWS_DISK_BUS_UNSAFE"],
    [],
  ],
  [
    "windows virtio allowed with drivers",
    "proxmox",
    base("proxmox", {
      os: { family: "windows" },
      platform_options: {
        ...OPTIONS,
        proxmox: { ...OPTIONS.proxmox, disk_bus: "virtio", virtio_drivers: true },
      },
    }),
    ["WINDOWS_DISK_SATA"],
    ["WINDOWS_DISK_BUS_UNSAFE"],
  ],
  [
    "windows without template is warned",
    "esxi",
    base("esxi", {
      os: { family: "windows" },
      template_id: undefined,
      image: { source: "/w.ova", format: "ova" },
    }),
    ["WINDOWS_NO_TEMPLATE"],
    [],
  ],
  [
    "esxi qcow2 needs conversion",
    "esxi",
    base("esxi", { template_id: undefined, image: { source: "/i/jammy.qcow2", format: "qcow2" } }),
    ["IMAGE_NEEDS_CONVERSION", "TEMPLATE_PREFERRED"],
    [],
  ],
  [
    "esxi ova needs conversion",
    "esxi",
    base("esxi", { template_id: undefined, image: { source: "/i/x.ova", format: "ova" } }),
    ["IMAGE_NEEDS_CONVERSION"],
    [],
  ],
  [
    "esxi vhd is not supported",
    "esxi",
    base("esxi", { template_id: undefined, image: { source: "/i/x.vhd", format: "vhd" } }),
    ["IMAGE_FORMAT_UNSUPPORTED"],
    [],
  ],
  [
    "nothing to boot from",
    "proxmox",
    base("proxmox", { template_id: undefined }),
    ["SOURCE_MISSING", "PROXMOX_TEMPLATE_REQUIRED"],
    [],
  ],
  [
    "local with no network takes a loopback address from the pool",
    "local",
    local(),
    ["STATIC_ADDRESS_FROM_POOL", "LOCAL_LIMITS_NOT_ENFORCED"],
    ["STATIC_ADDRESS_REQUIRED", "SOURCE_MISSING", "LOCAL_NETWORK_NOT_LOOPBACK", "CLOUD_DHCP_FALSE"],
  ],
  [
    "local on a lab subnet is refused: loopback only",
    "local",
    local({ network: { cidr: "192.168.3.0/24", gateway: "192.168.3.1" } }),
    ["LOCAL_NETWORK_NOT_LOOPBACK"],
    ["STATIC_ADDRESS_FROM_POOL"],
  ],
  [
    "local with a loopback address is fine",
    "local",
    local({ network: { ip: "127.0.0.9" } }),
    [],
    ["LOCAL_NETWORK_NOT_LOOPBACK", "STATIC_ADDRESS_FROM_POOL", "STATIC_NETWORK_INCOMPLETE"],
  ],
  ["local has no DHCP", "local", local({ network: { dhcp: true } }), ["LOCAL_NO_DHCP"], []],
  ["local does not clone templates", "local", local({ template_id: "9000" }), ["TEMPLATE_NOT_SUPPORTED"], []],
  [
    "local needs a command",
    "local",
    local({ platform_options: { ...OPTIONS, local: {} } }),
    ["LOCAL_COMMAND_REQUIRED"],
    [],
  ],
];

describe("deployment rules", () => {
  it.each(CASES)("%s", (_name, platform, spec, present, absent) => {
    const codes = checkDeployment(spec, createAdapter(platform, { spec, env: {} })).map((f) => f.code);
    for (const code of present) expect(codes).toContain(code);
    for (const code of absent) expect(codes).not.toContain(code);
  });

  it("every finding has a stable code, a severity, a message and a fix", () => {
    for (const [, platform, spec] of CASES) {
      for (const f of checkDeployment(spec, createAdapter(platform, { spec, env: {} }))) {
        expect(f.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
        expect(["error", "warning", "info"]).toContain(f.severity);
        expect(f.message.length).toBeGreaterThan(10);
        expect(f.fix.length).toBeGreaterThan(2);
      }
    }
  });

  it("seed scenario: Proxmox Ubuntu 16 cores / 32 GiB / 1000 GB / template 9000 on 192.168.3.0/24 gets .30, .1, /24, Google DNS", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-rules-"));
    try {
      const { spec, findings } = parseDeploySpec(
        JSON.stringify({
          name: "seed",
          os: { family: "linux", distro: "ubuntu" },
          cores: 16,
          memory_gib: 32,
          disk_gb: 1000,
          template_id: 9000,
          network: { cidr: "192.168.3.0/24" },
        }),
      );
      expect(findings).toEqual([]);
      const pool = new IpPool({ config: POOLS, statePath: join(dir, "ledger.json") });
      const preview = await resolveDeployNetwork(spec as DeploySpec, "proxmox", pool, { dryRun: true });
      expect(await pool.list()).toEqual([]);
      const { spec: resolved } = await resolveDeployNetwork(spec as DeploySpec, "proxmox", pool);
      expect(preview.spec.resolvedNetwork).toEqual(resolved.resolvedNetwork);
      expect(resolved).toMatchObject({ cores: 16, memory_mib: 32768, disk_gb: 1000, template_id: "9000" });
      expect(resolved.resolvedNetwork).toEqual({
        mode: "static",
        ip: "192.168.3.30",
        prefix: 24,
        netmask: "255.255.255.0",
        gateway: "192.168.3.1",
        dns: ["8.8.8.8", "8.8.4.4"],
        source: "pool",
      });
      // Idempotent for the same VM, the next VM gets the next address.
      expect(
        (await resolveDeployNetwork(spec as DeploySpec, "proxmox", pool)).spec.resolvedNetwork,
      ).toMatchObject({ ip: "192.168.3.30" });
      expect(
        (await resolveDeployNetwork({ ...(spec as DeploySpec), name: "seed2" }, "proxmox", pool)).spec
          .resolvedNetwork,
      ).toMatchObject({ ip: "192.168.3.31" });
      // A static address given by hand is completed from the pool config and reserved.
      const manual = await resolveDeployNetwork(
        { ...(spec as DeploySpec), name: "m1", network: { ip: "192.168.2.77" } },
        "proxmox",
        pool,
      );
      expect(manual.spec.resolvedNetwork).toMatchObject({
        ip: "192.168.2.77",
        prefix: 24,
        gateway: "192.168.2.1",
        dns: ["8.8.8.8", "8.8.4.4"],
        source: "spec",
      });
      expect((await pool.list()).map((a) => a.ip)).toEqual(["192.168.2.77", "192.168.3.30", "192.168.3.31"]);
      // Outside any configured subnet and incomplete: refused, never a VM without a reachable address.
      await expect(
        resolveDeployNetwork(
          { ...(spec as DeploySpec), name: "m2", network: { ip: "10.9.9.9" } },
          "proxmox",
          pool,
        ),
      ).rejects.toMatchObject({ code: "STATIC_NETWORK_INCOMPLETE" });
      // Cloud: DHCP unless static is asked.
      expect(
        (await resolveDeployNetwork({ ...(spec as DeploySpec), network: {} }, "aws", undefined)).spec
          .resolvedNetwork,
      ).toEqual({ mode: "dhcp" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("falls back below the pool when the pool range is used up", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-rules-"));
    try {
      const pool = new IpPool({
        config: {
          networks: [{ ...POOLS.networks[0]!, pools: [{ start: "192.168.3.30", end: "192.168.3.30" }] }],
        },
        statePath: join(dir, "l.json"),
      });
      const spec = base("proxmox");
      await resolveDeployNetwork(spec, "proxmox", pool);
      const second = await resolveDeployNetwork({ ...spec, name: "vm2" }, "proxmox", pool);
      expect(second.spec.resolvedNetwork).toMatchObject({
        ip: "192.168.3.254",
        source: "fallback",
        gateway: "192.168.3.1",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("spec parser", () => {
  it("reports every problem at once", () => {
    const { spec, findings } = parseDeploySpec(
      JSON.stringify({
        name: "-bad",
        platform: "vmware",
        os: { family: "beos" },
        cores: 1.5,
        memory_mib: 1,
        network: { cidr: "192.168.3.0/33", ip: "010.1.1.1", dns: "8.8.8.8" },
        typo: true,
      }),
    );
    expect(spec).toBeUndefined();
    expect(findings.map((f) => f.field).sort()).toEqual([
      "cores",
      "memory_mib",
      "name",
      "network.cidr",
      "network.dns",
      "network.ip",
      "os.family",
      "platform",
      "typo",
    ]);
  });

  it("rejects non-JSON with a DeploySpecError (exit 2)", () => {
    expect(() => parseDeploySpec("{ name: x }", "vm.json")).toThrow(
      expect.objectContaining({ code: "SPEC_NOT_JSON", exitCode: 2 }),
    );
  });

  it("infers the image format from the file name and accepts memory_gib", () => {
    const { spec } = parseDeploySpec(
      JSON.stringify({
        name: "a",
        os: { family: "linux" },
        cores: 1,
        memory_gib: 2,
        image: { source: "/x/jammy.qcow2" },
        network: {},
      }),
    );
    expect(spec).toMatchObject({ memory_mib: 2048, image: { format: "qcow2" } });
  });
});
