import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditLogPath } from "./audit-log.js";
import { IpPool } from "./ip-pool.js";
import type { IpPoolConfig } from "./types.js";

const CONFIG: IpPoolConfig = {
  probe: "none",
  networks: [
    {
      cidr: "192.168.3.0/24",
      gateway: "192.168.3.1",
      dns: [],
      dhcp: false,
      pools: [{ start: "192.168.3.30", end: "192.168.3.30" }],
    },
  ],
};

let dir: string;
let pool: IpPool;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-ipaudit-"));
  await writeFile(join(dir, "pools.json"), JSON.stringify(CONFIG));
  pool = new IpPool({ configPath: join(dir, "pools.json"), statePath: join(dir, "state.json") });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the IP audit log", () => {
  it("appends one JSON line per changed address with time, actor, command, owner, address, source and reason", async () => {
    await pool.allocate("192.168.3.0/24", "web1");
    await pool.allocate("192.168.3.0/24", "web1"); // unchanged: nothing logged
    await pool.allocate("192.168.3.0/24", "web2"); // pool full: fallback
    await pool.reserve("192.168.3.100", "printer");
    await pool.allocateDetailed("192.168.3.0/24", "dry", { dryRun: true });
    await pool.release({ owner: "web1" }, { command: "reconcile-fix" });

    const path = auditLogPath(join(dir, "state.json"));
    expect(path).toBe(join(dir, "state.audit.jsonl"));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(path, "utf8")).split("\n");
    expect(lines.pop()).toBe("");
    const entries = lines.map((l) => JSON.parse(l));
    const actor = { user: userInfo().username, host: hostname(), pid: process.pid };
    expect(entries).toEqual([
      {
        time: expect.any(String),
        actor,
        command: "allocate",
        action: "allocated",
        owner: "web1",
        address: "192.168.3.30",
        network: "192.168.3.0/24",
        source: "pool",
      },
      {
        time: expect.any(String),
        actor,
        command: "allocate",
        action: "allocated",
        owner: "web2",
        address: "192.168.3.254",
        network: "192.168.3.0/24",
        source: "fallback",
        reason: expect.stringContaining("no free address left"),
      },
      {
        time: expect.any(String),
        actor,
        command: "reserve",
        action: "reserved",
        owner: "printer",
        address: "192.168.3.100",
        network: "192.168.3.0/24",
        source: "reserved",
      },
      {
        time: expect.any(String),
        actor,
        command: "reconcile-fix",
        action: "released",
        owner: "web1",
        address: "192.168.3.30",
        network: "192.168.3.0/24",
        source: "pool",
      },
    ]);
    for (const e of entries) expect(Date.parse(e.time)).not.toBeNaN();
  });

  it("reads back what it wrote and reports a line that does not parse instead of failing or hiding it", async () => {
    await pool.allocate("192.168.3.0/24", "web1");
    await appendFile(join(dir, "state.audit.jsonl"), '{"time": "2026-01-01T00:00:00Z", "addr');
    const log = await pool.auditLog();
    expect(log.entries.map((e) => e.owner)).toEqual(["web1"]);
    expect(log.broken).toEqual([{ line: 2, text: '{"time": "2026-01-01T00:00:00Z", "addr' }]);
    // The next change starts on a fresh line rather than gluing itself to the torn one.
    await pool.allocate("192.168.3.0/24", "web2");
    expect((await pool.auditLog()).entries.map((e) => e.owner)).toEqual(["web1", "web2"]);
  });

  it("reports JSON lines that are not entries (null, a list, no address) as broken too", async () => {
    await pool.allocate("192.168.3.0/24", "web1");
    await appendFile(join(dir, "state.audit.jsonl"), 'null\n[1]\n{"time": "2026-01-01T00:00:00Z"}\n');
    const log = await pool.auditLog();
    expect(log.entries.map((e) => e.owner)).toEqual(["web1"]);
    expect(log.broken.map((b) => b.line)).toEqual([2, 3, 4]);
  });
});
