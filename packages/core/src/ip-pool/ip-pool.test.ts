import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { IpPool } from "./ip-pool.js";
import { parseIpv4 } from "./ipv4.js";
import { seedPoolConfig } from "./test-support/seed-network.js";
import type { IpPoolConfig } from "./types.js";

const CONFIG: IpPoolConfig = { networks: seedPoolConfig().networks.slice(0, 1) };

let dir: string;
let configPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ippool-"));
  configPath = join(dir, "ip_pools.json");
  await writeFile(configPath, JSON.stringify(CONFIG));
});
afterEach(async () => {
  delete process.env.LABGATE_IP_POOLS;
  await rm(dir, { recursive: true, force: true });
});

describe("IpPool", () => {
  it("keeps its ledger beside the config, mode 0600, and lists what it handed out", async () => {
    const pool = new IpPool({ configPath });
    expect(pool.statePath).toBe(join(dir, "ip_pools.state.json"));
    const a = await pool.allocate("192.168.3.0/24", "web1");
    const b = await pool.allocate("192.168.3.0/24", "web2");
    expect([a.ip, b.ip]).toEqual(["192.168.3.30", "192.168.3.31"]);
    expect((await stat(pool.statePath)).mode & 0o777).toBe(0o600);
    expect(await pool.list()).toEqual([a, b]);
    // a second instance (another process, in effect) sees the same ledger
    expect(await new IpPool({ configPath }).allocate("192.168.3.0/24", "web1")).toEqual(a);
    await expect(stat(`${pool.statePath}.lock`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("reports whether allocate created the address or returned the owner's existing one", async () => {
    const pool = new IpPool({ configPath });
    expect((await pool.allocateDetailed("192.168.3.0/24", "a")).created).toBe(true);
    expect((await pool.allocateDetailed("192.168.3.0/24", "a")).created).toBe(false);
  });

  it("finds the config through LABGATE_IP_POOLS", async () => {
    process.env.LABGATE_IP_POOLS = configPath;
    const pool = new IpPool({});
    expect(pool.configPath).toBe(configPath);
    expect((await pool.allocate("192.168.3.0/24", "x")).ip).toBe("192.168.3.30");
  });

  it("takes an in-memory config, which needs an explicit state path", async () => {
    expect(() => new IpPool({ config: CONFIG })).toThrow(
      expect.objectContaining({ code: "STATE_PATH_REQUIRED" }),
    );
    const pool = new IpPool({ config: CONFIG, statePath: join(dir, "mem", "state.json") });
    expect((await pool.allocate("192.168.3.0/24", "x")).ip).toBe("192.168.3.30");
    expect(await pool.list()).toHaveLength(1);
  });

  it("validates an in-memory config too", async () => {
    const pool = new IpPool({
      config: { networks: [{ ...(CONFIG.networks[0] as IpPoolConfig["networks"][0]), gateway: "10.0.0.1" }] },
      statePath: join(dir, "s.json"),
    });
    await expect(pool.allocate("192.168.3.0/24", "x")).rejects.toMatchObject({
      code: "GATEWAY_OUTSIDE_SUBNET",
    });
  });

  it("refuses to work with a corrupt ledger and never resets it", async () => {
    const pool = new IpPool({ configPath });
    await pool.allocate("192.168.3.0/24", "web1");
    const broken = (await readFile(pool.statePath, "utf8")).replace('"web1"', '""');
    await writeFile(pool.statePath, broken);
    for (const attempt of [
      () => pool.allocate("192.168.3.0/24", "web2"),
      () => pool.release({ owner: "web1" }),
      () => pool.reserve("192.168.3.50", "x"),
      () => pool.list(),
    ]) {
      await expect(attempt()).rejects.toMatchObject({
        code: "LEDGER_INVALID",
        exitCode: ExitCode.STATE,
        message: expect.stringContaining(pool.statePath),
      });
    }
    expect(await readFile(pool.statePath, "utf8")).toBe(broken);
  });

  it("does not create a ledger when the config is invalid or the request is bad", async () => {
    await writeFile(
      configPath,
      JSON.stringify({
        networks: [{ ...CONFIG.networks[0], pools: [{ start: "192.168.3.40", end: "192.168.3.30" }] }],
      }),
    );
    const pool = new IpPool({ configPath });
    await expect(pool.allocate("192.168.3.0/24", "x")).rejects.toMatchObject({
      code: "POOL_REVERSED",
      exitCode: 2,
    });
    await writeFile(configPath, JSON.stringify(CONFIG));
    await expect(pool.allocate("192.168.3.7/24", "x")).rejects.toMatchObject({ code: "CIDR_HOST_BITS_SET" });
    await expect(pool.release({ owner: "ghost" })).rejects.toMatchObject({
      code: "UNKNOWN_OWNER",
      exitCode: 2,
    });
    await expect(stat(pool.statePath)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("never hands out one address twice under concurrent callers from several instances", async () => {
    const pools = [new IpPool({ configPath }), new IpPool({ configPath }), new IpPool({ configPath })];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (pools[i % 3] as IpPool).allocate("192.168.3.0/24", `vm${i}`)),
    );
    const ips = results.map((r) => r.ip);
    expect(new Set(ips).size).toBe(30);
    const sorted = [...ips].sort((a, b) => parseIpv4(a) - parseIpv4(b));
    // 11 pool addresses, then .254 downwards: exactly the 30 best addresses, no gaps
    expect(sorted).toEqual(
      [
        ...Array.from({ length: 19 }, (_, i) => `192.168.3.${236 + i}`),
        ...Array.from({ length: 11 }, (_, i) => `192.168.3.${30 + i}`),
      ].sort((a, b) => parseIpv4(a) - parseIpv4(b)),
    );
    expect(await pools[0]?.list()).toHaveLength(30);
  });
});
