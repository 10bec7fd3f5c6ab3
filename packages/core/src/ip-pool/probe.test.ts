import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { validateIpPoolConfig } from "./config.js";
import { IpPool } from "./ip-pool.js";
import type { ProbeTarget } from "./probe.js";
import type { IpPoolConfig, ProbeMethod } from "./types.js";

// Probing without the wire: these cases fail before any packet could leave (no interface, no
// tool) or use a probe function, so 192.168.x stays data only. The real ARP/ping path is tested
// inside a veth pair in packages/cli/src/commands/ip-probe.netns.test.ts.

function config(probe: ProbeMethod): IpPoolConfig {
  return {
    networks: [
      {
        cidr: "192.168.3.0/24",
        gateway: "192.168.3.1",
        dns: [],
        dhcp: false,
        pools: [{ start: "192.168.3.30", end: "192.168.3.31" }],
        probe,
      },
    ],
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ipprobe-unit-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("probing candidates", () => {
  it('"arp" on a subnet this machine is not attached to is a precondition error (exit 4), nothing recorded', async () => {
    const pool = new IpPool({ config: config("arp"), statePath: join(dir, "s.json"), probe: true });
    await expect(pool.allocate("192.168.3.0/24", "a")).rejects.toMatchObject({
      code: "PROBE_NO_INTERFACE",
      exitCode: ExitCode.PRECONDITION,
      hint: expect.stringContaining('"probe": "ping"'),
    });
    expect(await pool.list()).toEqual([]);
  });

  it("a missing probe tool says what to install (exit 4)", async () => {
    const path = process.env.PATH;
    process.env.PATH = dir; // an empty directory: no ping to find
    try {
      const pool = new IpPool({ config: config("ping"), statePath: join(dir, "s.json"), probe: true });
      await expect(pool.allocate("192.168.3.0/24", "a")).rejects.toMatchObject({
        code: "PROBE_TOOL_MISSING",
        exitCode: ExitCode.PRECONDITION,
        hint: expect.stringContaining("apt-get install iputils-ping"),
      });
    } finally {
      process.env.PATH = path;
    }
  });

  it("skips and records what a probe function reports, and keeps conflicts found even when the subnet runs out", async () => {
    const asked: ProbeTarget[] = [];
    const busy = new Set(["192.168.3.30", "192.168.3.31", "192.168.3.254"]);
    const probe = async (t: ProbeTarget) => {
      asked.push(t);
      return busy.has(t.ip) ? { via: "ping" as const } : undefined;
    };
    const pool = new IpPool({ config: config("ping"), statePath: join(dir, "s.json"), probe });
    const got = await pool.allocateDetailed("192.168.3.0/24", "a");
    expect(got.allocation.ip).toBe("192.168.3.253");
    expect(got.conflicts.map((c) => c.ip)).toEqual(["192.168.3.30", "192.168.3.31", "192.168.3.254"]);
    expect(asked.map((t) => `${t.method} ${t.ip}`)).toEqual([
      "ping 192.168.3.30",
      "ping 192.168.3.31",
      "ping 192.168.3.254",
      "ping 192.168.3.253",
    ]);
    // "none" sends nothing; --no-probe (probe: false) overrides a pool that probes.
    asked.length = 0;
    const quiet = new IpPool({ config: config("none"), statePath: join(dir, "q.json"), probe });
    expect((await quiet.allocate("192.168.3.0/24", "b")).ip).toBe("192.168.3.30");
    expect((await pool.allocateDetailed("192.168.3.0/24", "c", { probe: false })).allocation.ip).toBe(
      "192.168.3.252",
    );
    expect(asked).toEqual([]);
  });

  it("refuses an unknown probe method in the config", () => {
    expect(() => validateIpPoolConfig({ ...config("arp"), probe: "icmp" }, "x.json")).toThrow(
      expect.objectContaining({
        code: "CONFIG_INVALID",
        message: expect.stringContaining('"arp", "ping", "none"'),
      }),
    );
  });
});
