import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { parseCidr } from "./cidr.js";
import { IpPool } from "./ip-pool.js";
import { parseIpv4 } from "./ipv4.js";
import { seedNetwork } from "./test-support/seed-network.js";
import type { IpPoolConfig } from "./types.js";

// Issue 11 items 3, 10 and the IP-pool part of 11: a symlinked ledger, a ledger that disagrees with
// the config, unknown keys, special-purpose fallbacks, spoofing owners, huge owners, IPv6.

const CONFIG: IpPoolConfig = {
  networks: [
    seedNetwork(),
    {
      name: "loopback",
      cidr: "127.0.0.0/24",
      gateway: "127.0.0.1",
      dns: [],
      dhcp: false,
      pools: [{ start: "127.0.0.2", end: "127.0.0.3" }],
    },
  ],
};

let dir: string;
let configPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ipsafety-"));
  configPath = join(dir, "pools.json");
  await writeFile(configPath, JSON.stringify(CONFIG));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(ip: string, owner: string, extra: Record<string, unknown> = {}) {
  return {
    ip,
    network: "192.168.3.0/24",
    prefix: 24,
    netmask: "255.255.255.0",
    gateway: "192.168.3.1",
    dns: ["8.8.8.8"],
    owner,
    source: "pool",
    allocatedAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

describe("a symlinked ledger (issue 11.3)", () => {
  it("locks and writes the real file: allocating via the link, then via the real path, gives distinct addresses", async () => {
    await mkdir(join(dir, "real"));
    const real = join(dir, "real", "ledger.json");
    const link = join(dir, "link.json");
    await symlink(join("real", "ledger.json"), link); // dangling until the first write

    const viaLink = await new IpPool({ configPath, statePath: link }).allocate("192.168.3.0/24", "a");
    const viaReal = await new IpPool({ configPath, statePath: real }).allocate("192.168.3.0/24", "b");
    expect([viaLink.ip, viaReal.ip]).toEqual(["192.168.3.30", "192.168.3.31"]);
    const third = await new IpPool({ configPath, statePath: link }).allocate("192.168.3.0/24", "c");
    expect(third.ip).toBe("192.168.3.32");

    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(join("real", "ledger.json"));
    const owners = JSON.parse(await readFile(real, "utf8")).allocations.map(
      (a: { owner: string }) => a.owner,
    );
    expect(owners).toEqual(["a", "b", "c"]);
    // The audit log sits beside the real ledger too, so both paths append to one log.
    const log = await new IpPool({ configPath, statePath: link }).auditLog();
    expect(log.path).toBe(join(dir, "real", "ledger.audit.jsonl"));
    expect(log.entries.map((e) => e.owner)).toEqual(["a", "b", "c"]);
  });
});

describe("the ledger checked against the config (issue 11.10)", () => {
  async function ledgerWith(entries: unknown[], top: Record<string, unknown> = {}) {
    const statePath = join(dir, "state.json");
    await writeFile(statePath, JSON.stringify({ version: 1, allocations: entries, ...top }));
    return { statePath, pool: new IpPool({ configPath, statePath }) };
  }

  it("refuses (exit 3, naming the entry) a hand-edited entry on the gateway instead of handing it back", async () => {
    const { pool, statePath } = await ledgerWith([
      entry("192.168.3.1", "sneaky", { gateway: "192.168.3.254" }),
    ]);
    const before = await readFile(statePath, "utf8");
    for (const call of [() => pool.allocate("192.168.3.0/24", "sneaky"), () => pool.list()]) {
      await expect(call()).rejects.toMatchObject({
        code: "LEDGER_CONFLICTS_WITH_CONFIG",
        exitCode: ExitCode.STATE,
        message: expect.stringMatching(
          /allocations\[0\] \(192\.168\.3\.1, owner "sneaky"\).*gateway of 192\.168\.3\.0\/24/,
        ),
        details: { entry: expect.objectContaining({ ip: "192.168.3.1", owner: "sneaky" }) },
      });
    }
    expect(await readFile(statePath, "utf8")).toBe(before);
  });

  it("refuses an entry whose gateway is outside its subnet, and one recorded as its own gateway", async () => {
    const outside = await ledgerWith([entry("192.168.3.30", "a", { gateway: "10.9.9.9" })]);
    await expect(outside.pool.allocate("192.168.3.0/24", "a")).rejects.toMatchObject({
      exitCode: ExitCode.STATE,
      message: expect.stringContaining("its gateway 10.9.9.9 is outside 192.168.3.0/24"),
    });
    const own = await ledgerWith([entry("192.168.3.30", "a", { gateway: "192.168.3.30" })]);
    await expect(own.pool.allocate("192.168.3.0/24", "b")).rejects.toMatchObject({
      exitCode: ExitCode.STATE,
      message: expect.stringContaining("recorded as its own gateway"),
    });
  });

  it("refuses the network or broadcast address, and an entry filed under another subnet than the config's", async () => {
    const broadcast = await ledgerWith([entry("192.168.3.255", "a")]);
    await expect(broadcast.pool.list()).rejects.toMatchObject({
      exitCode: ExitCode.STATE,
      message: expect.stringContaining("not a usable address of 192.168.3.0/24"),
    });
    const filed = await ledgerWith([
      entry("192.168.3.30", "a", {
        network: "192.168.3.0/25",
        prefix: 25,
        netmask: "255.255.255.128",
      }),
    ]);
    await expect(filed.pool.list()).rejects.toMatchObject({
      exitCode: ExitCode.STATE,
      message: expect.stringContaining("the config puts it in 192.168.3.0/24"),
    });
  });

  it("keeps unknown top-level keys when it writes the ledger back", async () => {
    const { pool, statePath } = await ledgerWith([entry("192.168.3.30", "a")], {
      note: "owned by the lab team",
      futureField: { x: [1, 2] },
    });
    await pool.allocate("192.168.3.0/24", "b");
    await pool.release({ owner: "a" });
    const written = JSON.parse(await readFile(statePath, "utf8"));
    expect(written.note).toBe("owned by the lab team");
    expect(written.futureField).toEqual({ x: [1, 2] });
    expect(written.allocations.map((a: { owner: string }) => a.owner)).toEqual(["b"]);
  });
});

describe("fallbacks on unconfigured special-purpose networks (issue 11.11)", () => {
  it.each([
    ["224.0.0.0/24", "multicast"],
    ["239.255.0.0/16", "multicast"],
    ["127.16.0.0/16", "loopback"],
    ["255.255.255.252/30", "limited broadcast 255.255.255.255"],
    ["255.255.255.254/31", "limited broadcast 255.255.255.255"],
    ["0.0.0.0/30", "this network"],
  ])("refuses %s (%s) with exit 2 and writes nothing", async (cidr, what) => {
    const statePath = join(dir, "state.json");
    const pool = new IpPool({ configPath, statePath });
    await expect(pool.allocate(cidr, "x")).rejects.toMatchObject({
      code: "NETWORK_NOT_ASSIGNABLE",
      exitCode: ExitCode.INVALID_INPUT,
      message: expect.stringContaining(what),
    });
    await expect(pool.reserve(cidr.replace(/\.\d+\/\d+$/, ".1"), "x", cidr)).rejects.toMatchObject({
      code: "NETWORK_NOT_ASSIGNABLE",
    });
    await expect(lstat(statePath)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("still hands out a configured loopback pool (the local lab uses one) and ordinary unconfigured subnets", async () => {
    const pool = new IpPool({ configPath, statePath: join(dir, "state.json") });
    expect((await pool.allocate("loopback", "local-lab")).ip).toBe("127.0.0.2");
    expect((await pool.allocate("172.20.0.0/24", "x")).ip).toBe("172.20.0.254");
  });
});

describe("owners that could spoof the listing or flood the terminal (issue 11.11)", () => {
  it.each([
    ["a right-to-left override", "web\u202e1bew", "U+202E"],
    ["a first-strong isolate", "web\u20681", "U+2068"],
    ["a zero-width space", "web\u200b1", "U+200B"],
    ["a zero-width joiner", "web\u200d1", "U+200D"],
    ["a byte-order mark", "\ufeffweb1", "U+FEFF"],
    ["NEL", "web\u00851", "U+0085"],
    ["a line separator", "web\u20281", "U+2028"],
    ["a newline", "web\n1", "U+000A"],
  ])("refuses an owner with %s", async (_what, owner, codePoint) => {
    const pool = new IpPool({ configPath, statePath: join(dir, "state.json") });
    const error = await pool.allocate("192.168.3.0/24", owner).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INVALID_OWNER", exitCode: ExitCode.INVALID_INPUT });
    expect((error as Error).message).toContain(codePoint);
    // The message shows the character escaped, never raw.
    expect((error as Error).message).not.toContain(owner);
  });

  it("bounds a 10 000-character owner with a clear error that does not echo it whole", async () => {
    const owner = "x".repeat(10_000);
    const pool = new IpPool({ configPath, statePath: join(dir, "state.json") });
    const error = (await pool.allocate("192.168.3.0/24", owner).catch((e: unknown) => e)) as Error & {
      hint: string;
    };
    expect(error).toMatchObject({ code: "INVALID_OWNER", exitCode: ExitCode.INVALID_INPUT });
    expect(error.message).toContain("10000 characters long; the limit is 128");
    expect(error.message.length).toBeLessThan(300);
    expect(error.hint.length).toBeLessThan(300);
  });

  it("a ledger entry with a spoofing owner is a broken ledger (exit 3), not something to print", async () => {
    const statePath = join(dir, "state.json");
    await writeFile(
      statePath,
      JSON.stringify({ version: 1, allocations: [entry("192.168.3.30", "web\u202e1")] }),
    );
    await expect(new IpPool({ configPath, statePath }).list()).rejects.toMatchObject({
      code: "LEDGER_INVALID",
      exitCode: ExitCode.STATE,
      message: expect.stringContaining("U+202E"),
    });
  });
});

describe("IPv6 input (issue 11.11)", () => {
  it.each(["::1/128", "fe80::/64", "::1", "2001:db8::1"])("%s says IPv6 is not supported", (value) => {
    for (const parse of [parseCidr, parseIpv4]) {
      expect(() => parse(value)).toThrow(expect.objectContaining({ code: "IPV6_NOT_SUPPORTED" }));
    }
  });

  it("allocate --network ::1/128 exits 2 saying so", async () => {
    const pool = new IpPool({ configPath, statePath: join(dir, "state.json") });
    await expect(pool.allocate("::1/128", "x")).rejects.toMatchObject({
      code: "IPV6_NOT_SUPPORTED",
      exitCode: ExitCode.INVALID_INPUT,
      message: expect.stringContaining("IPv4 only"),
    });
  });
});
