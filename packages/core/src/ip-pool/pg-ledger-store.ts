import { IpLedgerError, PreconditionError } from "../errors.js";
import type { AuditLogRead, IpAuditEntry } from "./audit-log.js";
import { type IpLedger, validateLedger } from "./ledger.js";
import type { LedgerLockScope, LedgerStore, LedgerTransaction } from "./ledger-store.js";
import { holdLockForTests } from "./ledger-store.js";

/** The part of node-postgres (`pg`) this store uses. */
interface PgClient {
  connect(): Promise<unknown>;
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** The URL as messages may show it: the password replaced. */
export function redactPostgresUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, "$1***@");
}

// Every labgate advisory lock is (LOCK_CLASS, key): key 0 guards the whole ledger (taken shared by
// per-subnet changes, exclusive by changes that may touch any subnet), hashtext(cidr) one subnet.
const LOCK_CLASS = "hashtext('labgate-ip-ledger')";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS labgate_ip_allocations (
  ip inet PRIMARY KEY, network cidr NOT NULL, entry jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS labgate_ip_conflicts (
  ip inet PRIMARY KEY, network cidr NOT NULL, entry jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS labgate_ip_audit (
  id bigserial PRIMARY KEY, time timestamptz NOT NULL, entry jsonb NOT NULL);
`;

/**
 * The ledger shared in PostgreSQL: one row per address, one transaction per change, and the same
 * planner as the file ledger. A change takes `pg_advisory_xact_lock` for its subnet (as NetBox
 * does for prefixes), so teams allocating on different subnets never wait for each other; the
 * primary key on the address is the last line of defence. A client killed mid-change loses its
 * connection, so PostgreSQL rolls the transaction back and releases its locks: no half-made row.
 */
export class PgLedgerStore implements LedgerStore {
  readonly location: string;

  constructor(
    private readonly url: string,
    private readonly lockTimeoutMs = 15_000,
  ) {
    this.location = redactPostgresUrl(url);
  }

  async read(): Promise<{ location: string; ledger: IpLedger }> {
    return this.session(async (db) => ({ location: this.location, ledger: await this.load(db) }));
  }

  async change<R>(scope: LedgerLockScope, fn: (tx: LedgerTransaction) => Promise<R>): Promise<R> {
    return this.session(async (db) => {
      await db.query("BEGIN");
      let persisted = false;
      try {
        await db.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.lockTimeoutMs))}`);
        if (scope === "all") await db.query(`SELECT pg_advisory_xact_lock(${LOCK_CLASS}, 0)`);
        else {
          await db.query(`SELECT pg_advisory_xact_lock_shared(${LOCK_CLASS}, 0)`);
          // Sorted, so two changes on the same subnets never wait for each other in a cycle.
          for (const subnet of [...scope.subnets].sort()) {
            await db.query(`SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext($1))`, [subnet]);
          }
        }
        const before = await this.load(db);
        const result = await fn({
          location: this.location,
          ledger: before,
          persist: async (after, entries) => {
            await writeDiff(db, before, after);
            for (const e of entries) {
              await db.query("INSERT INTO labgate_ip_audit (time, entry) VALUES ($1, $2)", [
                e.time,
                JSON.stringify(e),
              ]);
            }
            persisted = true;
            await holdLockForTests();
          },
        });
        await db.query("COMMIT");
        return result;
      } catch (error) {
        // Conflicts found by probes are persisted before "no address left" is thrown: keep them.
        await db.query(persisted ? "COMMIT" : "ROLLBACK").catch(() => {});
        throw error;
      }
    });
  }

  async auditLog(): Promise<AuditLogRead & { path: string }> {
    return this.session(async (db) => {
      const { rows } = await db.query<{ entry: IpAuditEntry }>(
        "SELECT entry FROM labgate_ip_audit ORDER BY id",
      );
      return {
        path: `${this.location} (table labgate_ip_audit)`,
        entries: rows.map((r) => r.entry),
        broken: [],
      };
    });
  }

  /** Appends entries carried over from a file ledger's audit log (ip migrate). */
  async importAudit(entries: IpAuditEntry[]): Promise<void> {
    await this.session(async (db) => {
      for (const e of entries) {
        await db.query("INSERT INTO labgate_ip_audit (time, entry) VALUES ($1, $2)", [
          e.time,
          JSON.stringify(e),
        ]);
      }
    });
  }

  private async load(db: PgClient): Promise<IpLedger> {
    const allocations = await db.query<{ entry: unknown }>(
      "SELECT entry FROM labgate_ip_allocations ORDER BY ip",
    );
    const conflicts = await db.query<{ entry: unknown }>(
      "SELECT entry FROM labgate_ip_conflicts ORDER BY ip",
    );
    // The same checks as a file ledger: a hand-edited row is caught, never handed out.
    return validateLedger(
      {
        version: 1,
        allocations: allocations.rows.map((r) => r.entry),
        ...(conflicts.rows.length > 0 ? { conflicts: conflicts.rows.map((r) => r.entry) } : {}),
      },
      this.location,
    );
  }

  private async session<R>(fn: (db: PgClient) => Promise<R>): Promise<R> {
    const db = await connect(this.url, this.location);
    try {
      await ensureSchema(db);
      return await fn(db);
    } finally {
      await db.end().catch(() => {});
    }
  }
}

async function writeDiff(db: PgClient, before: IpLedger, after: IpLedger): Promise<void> {
  for (const [table, old, now] of [
    ["labgate_ip_allocations", before.allocations, after.allocations],
    ["labgate_ip_conflicts", before.conflicts ?? [], after.conflicts ?? []],
  ] as const) {
    const oldByIp = new Map<string, string>(old.map((e) => [e.ip, JSON.stringify(e)]));
    const nowByIp = new Map<string, { json: string; network: string }>(
      now.map((e) => [e.ip, { json: JSON.stringify(e), network: e.network }]),
    );
    const gone = [...oldByIp].filter(([ip, json]) => nowByIp.get(ip)?.json !== json).map(([ip]) => ip);
    if (gone.length > 0) await db.query(`DELETE FROM ${table} WHERE ip = ANY($1::inet[])`, [gone]);
    for (const [ip, { json, network }] of nowByIp) {
      if (oldByIp.get(ip) === json) continue;
      await db.query(`INSERT INTO ${table} (ip, network, entry) VALUES ($1, $2, $3)`, [ip, network, json]);
    }
  }
}

async function ensureSchema(db: PgClient): Promise<void> {
  // CREATE TABLE IF NOT EXISTS races with itself; one creator at a time.
  await db.query("BEGIN");
  try {
    await db.query(`SELECT pg_advisory_xact_lock(${LOCK_CLASS}, 1)`);
    await db.query(SCHEMA);
    await db.query("COMMIT");
  } catch (error) {
    await db.query("ROLLBACK").catch(() => {});
    throw new IpLedgerError(
      "PG_SCHEMA_FAILED",
      `Cannot create labgate's tables in the shared ledger: ${(error as Error).message}`,
      {
        cause: error,
        hint: "The database user needs CREATE on the schema the first time (later only SELECT/INSERT/DELETE).",
      },
    );
  }
}

async function connect(url: string, location: string): Promise<PgClient> {
  let pg: { default?: { Client: new (o: object) => PgClient }; Client?: new (o: object) => PgClient };
  try {
    pg = (await import("pg")) as typeof pg;
  } catch (error) {
    throw new PreconditionError(
      "PG_DRIVER_MISSING",
      "A PostgreSQL ledger needs the pg package, which is not installed.",
      {
        cause: error,
        hint: "Install it beside labgate: npm install pg",
      },
    );
  }
  const Client = pg.Client ?? pg.default?.Client;
  if (!Client)
    throw new PreconditionError("PG_DRIVER_MISSING", "The installed pg package has no Client.", {
      hint: "npm install pg@^8",
    });
  const db = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  db.on("error", () => {}); // a dropped connection surfaces as the failing query's error
  try {
    await db.connect();
  } catch (error) {
    throw new IpLedgerError(
      "PG_UNREACHABLE",
      `Cannot connect to the shared ledger ${location}: ${(error as Error).message}`,
      {
        cause: error,
        hint: "Check the URL (--ledger or LABGATE_LEDGER), that PostgreSQL runs and accepts this user, and the network path to it.",
        details: { ledger: location },
      },
    );
  }
  return db;
}
