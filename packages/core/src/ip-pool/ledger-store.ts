import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { removeOrphanTempFiles } from "../fs/atomic-write.js";
import { withFileLock } from "../fs/file-lock.js";
import { resolveStatePath } from "../fs/real-path.js";
import { sleep } from "../util/sleep.js";
import {
  type AuditLogRead,
  appendAuditEntries,
  auditLogPath,
  type IpAuditEntry,
  readAuditLog,
} from "./audit-log.js";
import { type IpLedger, readLedger, writeLedger } from "./ledger.js";

/** What one change may lock: the subnets it allocates on (others go on), or the whole ledger. */
export type LedgerLockScope = { subnets: string[] } | "all";

export interface LedgerTransaction {
  /** Where the ledger really is (the resolved file, or the database), for messages. */
  location: string;
  ledger: IpLedger;
  /** Writes the new ledger and its audit entries as one change. */
  persist(after: IpLedger, entries: IpAuditEntry[]): Promise<void>;
}

/** Where a ledger lives: a JSON file (the embedded default) or a shared PostgreSQL database. */
export interface LedgerStore {
  /** For messages: the path, or the URL without its password. */
  readonly location: string;
  /** The ledger as it is now, without a lock (writers replace it atomically). */
  read(): Promise<{ location: string; ledger: IpLedger }>;
  /** Runs `fn` holding the lock for `scope`, against the ledger as it is under that lock. */
  change<R>(scope: LedgerLockScope, fn: (tx: LedgerTransaction) => Promise<R>): Promise<R>;
  auditLog(): Promise<AuditLogRead & { path: string }>;
}

/**
 * The ledger as a JSON file beside the config: every change under an inter-process file lock, the
 * file replaced atomically, the audit log appended beside it. Symlinks are resolved first: through
 * a link, the rename would replace the link and the lock would guard another name than a writer
 * using the real path takes.
 */
export class FileLedgerStore implements LedgerStore {
  constructor(
    readonly location: string,
    private readonly lockTimeoutMs?: number,
  ) {}

  async read(): Promise<{ location: string; ledger: IpLedger }> {
    const path = await resolveStatePath(this.location);
    return { location: path, ledger: await readLedger(path) };
  }

  async change<R>(_scope: LedgerLockScope, fn: (tx: LedgerTransaction) => Promise<R>): Promise<R> {
    const path = await resolveStatePath(this.location);
    // The lock file lives beside the ledger, so its directory must exist before the lock is taken.
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return withFileLock(
      path,
      async () => {
        // A writer killed between its temp file and the rename left that temp file; nobody else will.
        await removeOrphanTempFiles(path);
        const ledger = await readLedger(path);
        return fn({
          location: path,
          ledger,
          persist: async (after, entries) => {
            await holdLockForTests();
            await writeLedger(path, after);
            await appendAuditEntries(auditLogPath(path), entries);
          },
        });
      },
      this.lockTimeoutMs === undefined ? {} : { timeoutMs: this.lockTimeoutMs },
    );
  }

  async auditLog(): Promise<AuditLogRead & { path: string }> {
    const path = auditLogPath(await resolveStatePath(this.location));
    return { path, ...(await readAuditLog(path)) };
  }
}

/**
 * Test hook: with LABGATE_TEST_HOOKS=1, LABGATE_TEST_HOLD_LOCK_MS pauses a change inside the lock,
 * after deciding and before writing, so a test can kill the process at the worst moment.
 */
export async function holdLockForTests(): Promise<void> {
  if (process.env.LABGATE_TEST_HOOKS !== "1") return;
  const ms = Number(process.env.LABGATE_TEST_HOLD_LOCK_MS ?? 0);
  if (ms > 0) await sleep(ms);
}
