import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpPool } from "./ip-pool.js";
import { redactPostgresUrl } from "./pg-ledger-store.js";
import { startTestPostgres, type TestPostgres } from "./test-support/postgres-server.js";
import type { IpPoolConfig } from "./types.js";

const CONFIG: IpPoolConfig = {
  probe: "none",
  networks: [
    {
      cidr: "192.168.3.0/24",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8"],
      dhcp: false,
      pools: [{ start: "192.168.3.30", end: "192.168.3.31" }],
    },
  ],
};

let pg: TestPostgres;
let dir: string;
beforeAll(async () => {
  pg = await startTestPostgres();
  dir = await mkdtemp(join(tmpdir(), "labgate-pgledger-"));
  await writeFile(join(dir, "pools.json"), JSON.stringify(CONFIG));
}, 60_000);
afterAll(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("the PostgreSQL ledger", () => {
  it("has the file ledger's semantics: pool, idempotence, fallback, reserve, release, audit in a table", async () => {
    const pool = new IpPool({ configPath: join(dir, "pools.json"), ledger: pg.url });
    expect(pool.statePath).toBe(redactPostgresUrl(pg.url));
    const a = await pool.allocate("192.168.3.0/24", "a");
    expect(a.ip).toBe("192.168.3.30");
    expect(await pool.allocate("192.168.3.0/24", "a")).toEqual(a);
    // A second pool object (another machine, in effect) shares the same ledger.
    const other = new IpPool({ configPath: join(dir, "pools.json"), ledger: pg.url });
    expect((await other.allocate("192.168.3.0/24", "b")).ip).toBe("192.168.3.31");
    expect(await other.allocate("192.168.3.0/24", "c")).toMatchObject({
      ip: "192.168.3.254",
      source: "fallback",
    });
    await expect(other.reserve("192.168.3.30", "d")).rejects.toMatchObject({ code: "ADDRESS_TAKEN" });
    await pool.release({ owner: "a" });
    expect((await other.list()).map((x) => x.owner)).toEqual(["b", "c"]);
    const log = await other.auditLog();
    expect(log.entries.map((e) => `${e.action} ${e.address} ${e.owner}`)).toEqual([
      "allocated 192.168.3.30 a",
      "allocated 192.168.3.31 b",
      "allocated 192.168.3.254 c",
      "released 192.168.3.30 a",
    ]);
    await other.release({ owner: "b" });
    await other.release({ owner: "c" });
  });

  it("redacts the password of a ledger URL in every message", () => {
    expect(redactPostgresUrl("postgres://ipam:s3cr%40t@db.example:5432/lab")).toBe(
      "postgres://ipam:***@db.example:5432/lab",
    );
  });

  it("an unreachable server is a clear state error naming the URL without its password", async () => {
    const pool = new IpPool({
      configPath: join(dir, "pools.json"),
      ledger: `postgres://u:hunter2@localhost/x?host=${encodeURIComponent(join(dir, "nowhere"))}`,
    });
    const error = (await pool.list().catch((e: unknown) => e)) as Error & { code: string; exitCode: number };
    expect(error).toMatchObject({ code: "PG_UNREACHABLE", exitCode: 3 });
    expect(error.message).not.toContain("hunter2");
  });
});
