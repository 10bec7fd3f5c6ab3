import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IpPoolConfigError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { loadIpPoolConfig, validateIpPoolConfig } from "./config.js";
import { seedPoolConfig } from "./test-support/seed-network.js";

const SHIPPED = join(dirname(fileURLToPath(import.meta.url)), "../../../../config/ip_pools.json");
const FILE = "/etc/labgate/ip_pools.json";

function base(): { networks: Record<string, unknown>[]; defaultDns?: unknown } {
  return {
    networks: [
      {
        cidr: "192.168.3.0/24",
        gateway: "192.168.3.1",
        dns: ["8.8.8.8", "8.8.4.4"],
        dhcp: false,
        pools: [{ start: "192.168.3.30", end: "192.168.3.40" }],
      },
      {
        cidr: "192.168.2.0/24",
        gateway: "192.168.2.1",
        dns: ["8.8.8.8"],
        dhcp: false,
        pools: [{ start: "192.168.2.30", end: "192.168.2.40" }],
      },
    ],
  };
}

type Edit = (c: ReturnType<typeof base>) => void;
const first = (c: ReturnType<typeof base>) => c.networks[0] as Record<string, unknown>;

describe("validateIpPoolConfig", () => {
  it("accepts a valid config and returns a normalised copy", () => {
    const config = validateIpPoolConfig(
      {
        ...base(),
        defaultDns: ["1.1.1.1"],
        $comment: "x",
        networks: [
          {
            ...base().networks[0],
            name: "lan",
            exclude: ["192.168.3.35", { start: "192.168.3.100", end: "192.168.3.110" }],
          },
        ],
      },
      FILE,
    );
    expect(config).toEqual({
      defaultDns: ["1.1.1.1"],
      networks: [
        {
          name: "lan",
          cidr: "192.168.3.0/24",
          gateway: "192.168.3.1",
          dns: ["8.8.8.8", "8.8.4.4"],
          dhcp: false,
          pools: [{ start: "192.168.3.30", end: "192.168.3.40" }],
          exclude: ["192.168.3.35", { start: "192.168.3.100", end: "192.168.3.110" }],
        },
      ],
    });
  });

  it("accepts a /31 point-to-point network whose pool is the other address", () => {
    const config = validateIpPoolConfig(
      {
        networks: [
          {
            cidr: "10.0.0.0/31",
            gateway: "10.0.0.0",
            dns: [],
            dhcp: false,
            pools: [{ start: "10.0.0.1", end: "10.0.0.1" }],
          },
        ],
      },
      FILE,
    );
    expect(config.networks).toHaveLength(1);
  });

  const cases: [string, Edit, string, string, string | undefined][] = [
    // [case, edit, code, field, network]
    [
      "cidr with a bad address",
      (c) => (first(c).cidr = "192.168.3.300/24"),
      "INVALID_CIDR",
      "cidr",
      "192.168.3.300/24",
    ],
    ["cidr /33", (c) => (first(c).cidr = "192.168.3.0/33"), "INVALID_CIDR", "cidr", "192.168.3.0/33"],
    [
      "cidr with host bits set",
      (c) => (first(c).cidr = "192.168.3.7/24"),
      "CIDR_HOST_BITS_SET",
      "cidr",
      "192.168.3.7/24",
    ],
    [
      "a /32 network",
      (c) => Object.assign(first(c), { cidr: "192.168.3.9/32", gateway: "192.168.3.9", pools: [] }),
      "NETWORK_TOO_SMALL",
      "cidr",
      "192.168.3.9/32",
    ],
    ["missing cidr", (c) => delete first(c).cidr, "CONFIG_INVALID", "cidr", "networks[0]"],
    [
      "gateway 192.168.3.300",
      (c) => (first(c).gateway = "192.168.3.300"),
      "INVALID_ADDRESS",
      "gateway",
      "192.168.3.0/24",
    ],
    [
      "gateway 010.1.1.1",
      (c) => (first(c).gateway = "010.1.1.1"),
      "INVALID_ADDRESS",
      "gateway",
      "192.168.3.0/24",
    ],
    [
      "gateway outside the subnet",
      (c) => (first(c).gateway = "192.168.4.1"),
      "GATEWAY_OUTSIDE_SUBNET",
      "gateway",
      "192.168.3.0/24",
    ],
    [
      "gateway is the broadcast address",
      (c) => (first(c).gateway = "192.168.3.255"),
      "GATEWAY_NOT_USABLE",
      "gateway",
      "192.168.3.0/24",
    ],
    ["missing gateway", (c) => delete first(c).gateway, "CONFIG_INVALID", "gateway", "192.168.3.0/24"],
    [
      "bad dns entry",
      (c) => (first(c).dns = ["8.8.8.8", "8.8.8"]),
      "INVALID_ADDRESS",
      "dns",
      "192.168.3.0/24",
    ],
    ["dns not a list", (c) => (first(c).dns = "8.8.8.8"), "CONFIG_INVALID", "dns", "192.168.3.0/24"],
    ["dhcp missing", (c) => delete first(c).dhcp, "CONFIG_INVALID", "dhcp", "192.168.3.0/24"],
    ["dhcp a string", (c) => (first(c).dhcp = "no"), "CONFIG_INVALID", "dhcp", "192.168.3.0/24"],
    ["pools missing", (c) => delete first(c).pools, "CONFIG_INVALID", "pools", "192.168.3.0/24"],
    [
      "pool entry without end",
      (c) => (first(c).pools = [{ start: "192.168.3.30" }]),
      "CONFIG_INVALID",
      "pools[0]",
      "192.168.3.0/24",
    ],
    [
      "pool start 192.168.3.300",
      (c) => (first(c).pools = [{ start: "192.168.3.300", end: "192.168.3.40" }]),
      "INVALID_ADDRESS",
      "pools[0].start",
      "192.168.3.0/24",
    ],
    [
      "pool reversed",
      (c) => (first(c).pools = [{ start: "192.168.3.40", end: "192.168.3.30" }]),
      "POOL_REVERSED",
      "pools[0]",
      "192.168.3.0/24",
    ],
    [
      "pool outside the subnet",
      (c) => (first(c).pools = [{ start: "192.168.3.250", end: "192.168.4.10" }]),
      "POOL_OUTSIDE_SUBNET",
      "pools[0].end",
      "192.168.3.0/24",
    ],
    [
      "pool starting at the network address",
      (c) => (first(c).pools = [{ start: "192.168.3.0", end: "192.168.3.10" }]),
      "POOL_OUTSIDE_SUBNET",
      "pools[0].start",
      "192.168.3.0/24",
    ],
    [
      "pool reaching the broadcast address",
      (c) => (first(c).pools = [{ start: "192.168.3.250", end: "192.168.3.255" }]),
      "POOL_OUTSIDE_SUBNET",
      "pools[0].end",
      "192.168.3.0/24",
    ],
    [
      "overlapping pools",
      (c) =>
        (first(c).pools = [
          { start: "192.168.3.30", end: "192.168.3.40" },
          { start: "192.168.3.50", end: "192.168.3.60" },
          { start: "192.168.3.40", end: "192.168.3.45" },
        ]),
      "OVERLAPPING_POOLS",
      "pools[2]",
      "192.168.3.0/24",
    ],
    [
      "exclude outside the subnet",
      (c) => (first(c).exclude = ["192.168.9.9"]),
      "EXCLUDE_OUTSIDE_SUBNET",
      "exclude[0]",
      "192.168.3.0/24",
    ],
    [
      "exclude with a bad address",
      (c) => (first(c).exclude = ["192.168.3.1", "192.168.3.256"]),
      "INVALID_ADDRESS",
      "exclude[1]",
      "192.168.3.0/24",
    ],
    ["a misspelt field", (c) => (first(c).pool = []), "CONFIG_UNKNOWN_FIELD", "pool", "192.168.3.0/24"],
    ["a bad name", (c) => (first(c).name = "10.0.0.0/8"), "CONFIG_INVALID", "name", "192.168.3.0/24"],
    [
      "duplicate names",
      (c) => {
        first(c).name = "lan";
        (c.networks[1] as Record<string, unknown>).name = "lan";
      },
      "DUPLICATE_NETWORK_NAME",
      "name",
      "192.168.2.0/24",
    ],
    [
      "overlapping networks",
      (c) =>
        c.networks.push({ cidr: "192.168.0.0/16", gateway: "192.168.0.1", dns: [], dhcp: false, pools: [] }),
      "OVERLAPPING_NETWORKS",
      "cidr",
      "192.168.0.0/16",
    ],
    [
      "the same network twice",
      (c) => c.networks.push({ ...first(c) }),
      "OVERLAPPING_NETWORKS",
      "cidr",
      "192.168.3.0/24",
    ],
    [
      "networks not a list",
      (c) => ((c as Record<string, unknown>).networks = {}),
      "CONFIG_INVALID",
      "networks",
      undefined,
    ],
    ["bad defaultDns", (c) => (c.defaultDns = ["8.8.8.800"]), "INVALID_ADDRESS", "defaultDns", undefined],
    [
      "unknown top-level field",
      (c) => ((c as Record<string, unknown>).network = []),
      "CONFIG_UNKNOWN_FIELD",
      "network",
      undefined,
    ],
  ];

  it.each(cases)("rejects %s", (_name, edit, code, field, network) => {
    const raw = base();
    edit(raw);
    let error: unknown;
    try {
      validateIpPoolConfig(raw, FILE);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IpPoolConfigError);
    expect(error).toMatchObject({ code, exitCode: ExitCode.INVALID_INPUT, details: { file: FILE, field } });
    const message = (error as Error).message;
    expect(message).toContain(FILE);
    expect(message).toContain(`"${field}"`);
    if (network !== undefined) {
      expect(message).toContain(`network ${network}`);
      expect((error as IpPoolConfigError).details?.network).toBe(network);
    }
  });

  it("rejects a file that is not an object", () => {
    expect(() => validateIpPoolConfig([], FILE)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });
});

describe("loadIpPoolConfig", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-ipcfg-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads the shipped default config: 192.168.3.0/24 and 192.168.2.0/24, pools .30-.40", async () => {
    const config = await loadIpPoolConfig(SHIPPED);
    expect(config.networks.map((n) => [n.cidr, n.gateway, n.dns, n.dhcp, n.pools])).toEqual([
      [
        "192.168.3.0/24",
        "192.168.3.1",
        ["8.8.8.8", "8.8.4.4"],
        false,
        [{ start: "192.168.3.30", end: "192.168.3.40" }],
      ],
      [
        "192.168.2.0/24",
        "192.168.2.1",
        ["8.8.8.8", "8.8.4.4"],
        false,
        [{ start: "192.168.2.30", end: "192.168.2.40" }],
      ],
    ]);
  });

  it("the tests' seedPoolConfig() is the shipped file, so a test on the seed config tests what ships", async () => {
    const { $comment, ...shipped } = JSON.parse(await readFile(SHIPPED, "utf8")) as Record<string, unknown>;
    expect($comment).toEqual(expect.any(String));
    expect(shipped).toEqual(seedPoolConfig());
  });

  it("names a missing file", async () => {
    const path = join(dir, "nope.json");
    await expect(loadIpPoolConfig(path)).rejects.toMatchObject({
      code: "CONFIG_NOT_FOUND",
      exitCode: 2,
      message: expect.stringContaining(path),
    });
  });

  it("names a file that is not JSON", async () => {
    const path = join(dir, "bad.json");
    await writeFile(path, '{"networks": [,]}');
    await expect(loadIpPoolConfig(path)).rejects.toMatchObject({
      code: "CONFIG_NOT_JSON",
      message: expect.stringContaining(path),
    });
  });

  it("puts the file name into validation errors", async () => {
    const path = join(dir, "pools.json");
    const raw = base();
    first(raw).gateway = "10.0.0.1";
    await writeFile(path, JSON.stringify(raw));
    await expect(loadIpPoolConfig(path)).rejects.toThrow(
      `${path}: network 192.168.3.0/24, field "gateway": 10.0.0.1 is not inside 192.168.3.0/24.`,
    );
  });
});
