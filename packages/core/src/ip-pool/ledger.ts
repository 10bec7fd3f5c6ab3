import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { IpLedgerError } from "../errors.js";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { readJsonFile } from "../fs/read-json-file.js";
import { isUsableAddress, parseCidr } from "./cidr.js";
import { parseIpv4 } from "./ipv4.js";
import { ownerProblem } from "./owner.js";
import type { IpAllocation, IpConflict } from "./types.js";

/** The state file: every address handed out or held, one entry per address. */
export interface IpLedger {
  version: 1;
  allocations: IpAllocation[];
  /** Addresses a probe found in use by something the ledger does not know (never handed out). */
  conflicts?: IpConflict[];
  /** Top-level keys this version does not know (a newer labgate's, a person's note): written back unchanged. */
  extra?: Record<string, unknown>;
}

const ENTRY_KEYS = new Set([
  "ip",
  "network",
  "prefix",
  "netmask",
  "gateway",
  "dns",
  "owner",
  "source",
  "allocatedAt",
  "reserved",
  "fallbackReason",
]);

export function emptyLedger(): IpLedger {
  return { version: 1, allocations: [] };
}

/** A missing ledger is empty; a corrupt or hand-broken one is an error naming the path, never reset. */
export async function readLedger(path: string): Promise<IpLedger> {
  const raw = await readJsonFile(path);
  return raw === undefined ? emptyLedger() : validateLedger(raw, path);
}

export async function writeLedger(path: string, ledger: IpLedger): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, serializeLedger(ledger), { mode: 0o600 });
}

export function serializeLedger(ledger: IpLedger): string {
  const byAddress = (a: { ip: string }, b: { ip: string }) => parseIpv4(a.ip) - parseIpv4(b.ip);
  const conflicts = [...(ledger.conflicts ?? [])].sort(byAddress);
  const body = {
    ...ledger.extra,
    version: 1,
    allocations: [...ledger.allocations].sort(byAddress),
    ...(conflicts.length > 0 ? { conflicts } : {}),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Checks every entry so a hand edit that breaks an invariant (duplicate address, address outside its network) is caught. */
export function validateLedger(raw: unknown, path: string): IpLedger {
  if (!isObject(raw))
    throw broken(path, "(root)", 'it must be an object {"version": 1, "allocations": [...]}');
  if (raw.version !== 1)
    throw broken(path, "version", `unsupported version ${JSON.stringify(raw.version)} (expected 1)`);
  if (!Array.isArray(raw.allocations)) throw broken(path, "allocations", "it must be a list");
  const seen = new Map<number, number>();
  const allocations = raw.allocations.map((entry, index) => {
    const allocation = validateEntry(entry, `allocations[${index}]`, path);
    const address = parseIpv4(allocation.ip);
    const previous = seen.get(address);
    if (previous !== undefined) {
      throw broken(
        path,
        `allocations[${index}].ip`,
        `${allocation.ip} is also recorded at allocations[${previous}]`,
      );
    }
    seen.set(address, index);
    return allocation;
  });
  const conflicts = validateConflicts(raw.conflicts, path, seen);
  const extra = Object.fromEntries(
    Object.entries(raw).filter(([key]) => !["version", "allocations", "conflicts"].includes(key)),
  );
  return {
    version: 1,
    allocations,
    ...(conflicts.length > 0 ? { conflicts } : {}),
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

function validateConflicts(raw: unknown, path: string, recorded: Map<number, number>): IpConflict[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw broken(path, "conflicts", "it must be a list");
  const seen = new Set<number>();
  return raw.map((entry, index) => {
    const where = `conflicts[${index}]`;
    if (!isObject(entry)) throw broken(path, where, "it must be an object");
    const fail = (field: string, why: string) => broken(path, `${where}.${field}`, why);
    if (typeof entry.ip !== "string" || !safeParse(entry.ip)) throw fail("ip", "it must be an IPv4 address");
    const address = parseIpv4(entry.ip);
    if (recorded.has(address)) throw fail("ip", `${entry.ip} is also recorded as an allocation`);
    if (seen.has(address)) throw fail("ip", `${entry.ip} is recorded twice`);
    seen.add(address);
    const subnet = usableSubnet(entry, address, fail);
    if (entry.via !== "arp" && entry.via !== "ping") throw fail("via", 'it must be "arp" or "ping"');
    if (entry.mac !== undefined && (typeof entry.mac !== "string" || !MAC.test(entry.mac)))
      throw fail("mac", "it must be a MAC address like 00:16:3e:12:34:56");
    if (typeof entry.seenAt !== "string" || Number.isNaN(Date.parse(entry.seenAt)))
      throw fail("seenAt", "it must be an ISO-8601 time");
    return {
      ip: entry.ip,
      network: subnet.cidr,
      via: entry.via,
      ...(entry.mac === undefined ? {} : { mac: entry.mac as string }),
      seenAt: entry.seenAt,
    };
  });
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

function validateEntry(entry: unknown, where: string, path: string): IpAllocation {
  if (!isObject(entry)) throw broken(path, where, "it must be an object");
  const fail = (field: string, why: string) => broken(path, `${where}.${field}`, why);
  for (const key of Object.keys(entry)) {
    if (!ENTRY_KEYS.has(key)) throw fail(key, "unknown field");
  }
  const address = (field: string): number => {
    const value = entry[field];
    if (typeof value !== "string") throw fail(field, "it must be an IPv4 address string");
    try {
      return parseIpv4(value);
    } catch (error) {
      throw fail(field, (error as Error).message);
    }
  };
  const ip = address("ip");
  const subnet = usableSubnet(entry, ip, fail);
  if (entry.prefix !== subnet.prefix) throw fail("prefix", `it must be ${subnet.prefix} for ${subnet.cidr}`);
  if (entry.netmask !== subnet.netmask)
    throw fail("netmask", `it must be ${subnet.netmask} for ${subnet.cidr}`);
  address("gateway");
  if (!Array.isArray(entry.dns)) throw fail("dns", "it must be a list of addresses");
  entry.dns.forEach((_, i) => {
    const value = (entry.dns as unknown[])[i];
    if (typeof value !== "string" || !safeParse(value))
      throw fail(`dns[${i}]`, "it must be an IPv4 address string");
  });
  const problem = ownerProblem(entry.owner);
  if (problem) throw fail("owner", problem);
  if (entry.source !== "pool" && entry.source !== "fallback")
    throw fail("source", 'it must be "pool" or "fallback"');
  if (typeof entry.allocatedAt !== "string" || Number.isNaN(Date.parse(entry.allocatedAt))) {
    throw fail("allocatedAt", "it must be an ISO-8601 time");
  }
  if (entry.reserved !== undefined && typeof entry.reserved !== "boolean")
    throw fail("reserved", "it must be true or false");
  if (entry.fallbackReason !== undefined && typeof entry.fallbackReason !== "string") {
    throw fail("fallbackReason", "it must be a string");
  }
  return {
    ip: entry.ip as string,
    network: subnet.cidr,
    prefix: subnet.prefix,
    netmask: subnet.netmask,
    gateway: entry.gateway as string,
    dns: [...(entry.dns as string[])],
    owner: entry.owner as string,
    source: entry.source,
    allocatedAt: entry.allocatedAt,
    ...(entry.reserved === undefined ? {} : { reserved: entry.reserved }),
    ...(entry.fallbackReason === undefined ? {} : { fallbackReason: entry.fallbackReason }),
  };
}

function safeParse(value: string): boolean {
  try {
    parseIpv4(value);
    return true;
  } catch {
    return false;
  }
}

/** The entry's `network` as a subnet in which its `ip` (already parsed to `address`) is a usable host address. */
function usableSubnet(
  entry: Record<string, unknown>,
  address: number,
  fail: (field: string, why: string) => IpLedgerError,
): ReturnType<typeof parseCidr> {
  if (typeof entry.network !== "string") throw fail("network", "it must be a CIDR string");
  let subnet: ReturnType<typeof parseCidr>;
  try {
    subnet = parseCidr(entry.network);
  } catch (error) {
    throw fail("network", (error as Error).message);
  }
  if (!isUsableAddress(subnet, address))
    throw fail("ip", `${entry.ip} is not a usable address of ${subnet.cidr}`);
  return subnet;
}

function broken(path: string, field: string, why: string): IpLedgerError {
  return new IpLedgerError("LEDGER_INVALID", `The IP ledger ${path} is broken at ${field}: ${why}.`, {
    hint: `Fix that entry by hand (or restore ${path} from a backup); labgate will not reset it because that would forget which addresses are in use.`,
    details: { path, field },
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
