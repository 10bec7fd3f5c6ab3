import { open, readFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { StateError } from "../errors.js";
import type { IpLedger } from "./ledger.js";
import type { IpAllocation, IpConflict } from "./types.js";

/** One change to the ledger, as one line of the audit log. */
export interface IpAuditEntry {
  time: string;
  actor: { user: string; host: string; pid: number };
  /** allocate, reserve, release, conflict, reconcile-fix, migrate ... */
  command: string;
  /** allocated, reserved, released, conflict, conflict-cleared */
  action: "allocated" | "reserved" | "released" | "conflict" | "conflict-cleared";
  owner?: string;
  address: string;
  network: string;
  source?: "pool" | "fallback" | "reserved";
  reason?: string;
  /** For a conflict: the MAC that answered an ARP probe. */
  mac?: string;
}

/** The audit log lives beside the ledger: ip_pools.state.json → ip_pools.state.audit.jsonl. */
export function auditLogPath(statePath: string): string {
  return `${statePath.replace(/\.json$/i, "")}.audit.jsonl`;
}

export function currentActor(): IpAuditEntry["actor"] {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? String(process.getuid?.() ?? "unknown");
  }
  return { user, host: hostname(), pid: process.pid };
}

/** What changed between two ledgers, as audit entries (one per address). */
export function auditEntriesFor(
  before: IpLedger,
  after: IpLedger,
  command: string,
  now: Date,
  actor = currentActor(),
): IpAuditEntry[] {
  const base = { time: now.toISOString(), actor, command };
  const key = (a: { ip: string; network: string }) => `${a.network} ${a.ip}`;
  const beforeAll = new Map(before.allocations.map((a) => [key(a), a]));
  const afterAll = new Map(after.allocations.map((a) => [key(a), a]));
  const beforeConflicts = new Map((before.conflicts ?? []).map((c) => [key(c), c]));
  const afterConflicts = new Map((after.conflicts ?? []).map((c) => [key(c), c]));
  // In the order things happen within one change: what probes found, what was forgotten, then the result.
  const entries: IpAuditEntry[] = [];
  for (const [k, c] of afterConflicts) if (!beforeConflicts.has(k)) entries.push({ ...base, ...conflict(c) });
  for (const [k, c] of beforeConflicts) {
    if (!afterConflicts.has(k)) {
      entries.push({ ...base, action: "conflict-cleared", address: c.ip, network: c.network });
    }
  }
  for (const [k, a] of beforeAll) {
    if (!afterAll.has(k)) entries.push({ ...base, action: "released", ...describe(a) });
  }
  for (const [k, a] of afterAll) if (!beforeAll.has(k)) entries.push({ ...base, ...added(a) });
  return entries;
}

function added(a: IpAllocation): Omit<IpAuditEntry, "time" | "actor" | "command"> {
  return { action: a.reserved ? "reserved" : "allocated", ...describe(a) };
}

function describe(a: IpAllocation) {
  return {
    owner: a.owner,
    address: a.ip,
    network: a.network,
    source: a.reserved ? ("reserved" as const) : a.source,
    ...(a.fallbackReason === undefined ? {} : { reason: a.fallbackReason }),
  };
}

function conflict(c: IpConflict): Omit<IpAuditEntry, "time" | "actor" | "command"> {
  return {
    action: "conflict",
    address: c.ip,
    network: c.network,
    reason: c.via === "arp" ? `answered an ARP probe from ${c.mac ?? "an unknown MAC"}` : "answered a ping",
    ...(c.mac === undefined ? {} : { mac: c.mac }),
  };
}

/**
 * Appends entries with one write(2) on an O_APPEND descriptor: a process killed at any moment
 * leaves whole lines only (the kernel completes or skips a regular-file write, it does not stop
 * half-way for a signal), and concurrent appenders cannot interleave inside a line.
 * Call it while holding the ledger lock, so the log's order is the ledger's order.
 */
export async function appendAuditEntries(path: string, entries: IpAuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const lines = entries.map((e) => `${JSON.stringify(e)}\n`).join("");
  const handle = await open(path, "a+", 0o600);
  try {
    // A line cut short (a full disk, a hand edit) must not swallow the first new entry.
    const size = (await handle.stat()).size;
    const last = Buffer.alloc(1);
    if (size > 0) await handle.read(last, 0, 1, size - 1);
    const data = Buffer.from(size > 0 && last[0] !== 0x0a ? `\n${lines}` : lines);
    const { bytesWritten } = await handle.write(data);
    if (bytesWritten !== data.length) {
      throw new StateError(
        "AUDIT_LOG_SHORT_WRITE",
        `Only ${bytesWritten} of ${data.length} bytes reached the audit log ${path} (disk full?).`,
        {
          hint: "Free space on that filesystem; the last line of the log is incomplete and `labgate ip log` reports it.",
          details: { path },
        },
      );
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface AuditLogRead {
  entries: IpAuditEntry[];
  /** Lines that do not parse (hand edits, a full disk), with their 1-based line numbers. */
  broken: { line: number; text: string }[];
}

export async function readAuditLog(path: string): Promise<AuditLogRead> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { entries: [], broken: [] };
    throw new StateError(
      "STATE_UNREADABLE",
      `Cannot read the audit log ${path}: ${(error as Error).message}`,
      {
        cause: error,
        hint: "Check the file's permissions and ownership.",
        details: { path },
      },
    );
  }
  const entries: IpAuditEntry[] = [];
  const broken: AuditLogRead["broken"] = [];
  text.split("\n").forEach((line, index) => {
    if (line === "") return;
    const parsed = parseEntry(line);
    if (parsed) entries.push(parsed);
    else broken.push({ line: index + 1, text: line.length > 80 ? `${line.slice(0, 80)}...` : line });
  });
  return { entries, broken };
}

/** One line as an entry, or undefined when it is not JSON or lacks the time and address every entry has. */
function parseEntry(line: string): IpAuditEntry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const entry = parsed as Partial<IpAuditEntry> | null;
  if (typeof entry !== "object" || entry === null) return undefined;
  return typeof entry.time === "string" && typeof entry.address === "string"
    ? (entry as IpAuditEntry)
    : undefined;
}
