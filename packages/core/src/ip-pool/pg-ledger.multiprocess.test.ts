import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpPool } from "./ip-pool.js";
import { startTestPostgres, type TestPostgres } from "./test-support/postgres-server.js";

// Issue 16.4: several processes (standing in for machines of a team) share one PostgreSQL ledger.

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, "test-support/pg-allocate-child.mjs");
const CORE = join(HERE, "../..");
const NETWORK = "10.0.0.0/24";

let server: TestPostgres;
let dir: string;
let configPath: string;
const children: ChildProcess[] = [];

/** The children run the compiled IpPool: rebuild core when a source of it is newer than its output. */
function ensureBuiltCore(): void {
  const stale = ["ip-pool", "fs"].some((folder) =>
    readdirSync(join(CORE, "src", folder))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .some((f) => {
        const out = join(CORE, "dist", folder, f.replace(/\.ts$/, ".js"));
        return !existsSync(out) || statSync(out).mtimeMs < statSync(join(CORE, "src", folder, f)).mtimeMs;
      }),
  );
  if (stale) execFileSync("npx", ["tsc", "-p", join(CORE, "tsconfig.json")], { stdio: "ignore" });
}

beforeAll(async () => {
  ensureBuiltCore();
  server = await startTestPostgres();
  dir = await mkdtemp(join(tmpdir(), "labgate-pgmulti-"));
  configPath = join(dir, "pools.json");
  await writeFile(
    configPath,
    JSON.stringify({
      probe: "none",
      networks: [
        {
          cidr: NETWORK,
          gateway: "10.0.0.1",
          dns: [],
          dhcp: false,
          pools: [{ start: "10.0.0.10", end: "10.0.0.250" }],
        },
      ],
    }),
  );
}, 240_000);

afterAll(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

function child(prefix: string, count: number, env: Record<string, string> = {}) {
  const c = spawn(process.execPath, [CHILD, configPath, server.url, NETWORK, prefix, String(count)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  children.push(c);
  let stdout = "";
  let stderr = "";
  c.stdout?.on("data", (d) => (stdout += d));
  c.stderr?.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) => c.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child: c, done };
}

async function query<R>(text: string): Promise<R[]> {
  const db = new pg.Client({ connectionString: server.url });
  await db.connect();
  try {
    return (await db.query(text)).rows as R[];
  } finally {
    await db.end();
  }
}

describe("a PostgreSQL ledger shared by several processes", () => {
  it("8 processes x 25 allocations give 200 distinct addresses, each recorded once and audited once", async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, (_, p) => child(`p${p}`, 25).done));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const handed = runs.flatMap((r) => r.stdout.trim().split("\n")).map((l) => l.split(" "));
    expect(handed).toHaveLength(200);
    expect(new Set(handed.map((h) => h[2])).size).toBe(200);

    const pool = new IpPool({ configPath, ledger: server.url });
    const ledger = await pool.list();
    expect(ledger.map((a) => `${a.owner} ${a.ip}`).sort()).toEqual(
      handed.map((h) => `${h[1]} ${h[2]}`).sort(),
    );
    const audit = await pool.auditLog();
    expect(audit.entries.filter((e) => e.action === "allocated")).toHaveLength(200);
    await pool.release({ ip: "10.0.0.10" }); // leave room for the next test's victim and survivor
  }, 240_000);

  it("kill -9 in the middle of an allocation leaves no half-made row, and the next allocation goes on", async () => {
    const rowsBefore = await query<{ n: string }>("SELECT count(*) AS n FROM labgate_ip_allocations");
    const auditBefore = await query<{ n: string }>("SELECT count(*) AS n FROM labgate_ip_audit");
    // The test hook holds the transaction open after its INSERTs and before COMMIT.
    const victim = child("victim", 1, { LABGATE_TEST_HOOKS: "1", LABGATE_TEST_HOLD_LOCK_MS: "60000" });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const pending = await query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'idle in transaction'",
      );
      if (Number(pending[0]?.n) > 0) break;
      if (Date.now() > deadline) throw new Error("the victim never reached its open transaction");
      await new Promise((r) => setTimeout(r, 50));
    }
    victim.child.kill("SIGKILL");
    expect((await victim.done).signal).toBe("SIGKILL");

    expect(await query("SELECT count(*) AS n FROM labgate_ip_allocations")).toEqual(rowsBefore);
    expect(await query("SELECT count(*) AS n FROM labgate_ip_audit")).toEqual(auditBefore);
    expect(
      await query("SELECT entry FROM labgate_ip_allocations WHERE entry->>'owner' LIKE 'victim%'"),
    ).toEqual([]);

    // The dead client's advisory locks went with its connection: the next process is not blocked.
    const next = await child("survivor", 1).done;
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toBe("ip survivor-0 10.0.0.10\n");
  }, 120_000);
});
