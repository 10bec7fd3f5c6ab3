import { readdir, readFile, readlink } from "node:fs/promises";
import { createServer } from "node:net";

export interface PortOwner {
  pid?: number;
  /** Command line of the holder, when /proc lets us see it. */
  command?: string;
  /** Local address the socket listens on, e.g. "0.0.0.0" or "127.0.0.1". */
  address: string;
}

/** Whether `address:port` can be bound right now (the way our processes will bind it). */
export function canListen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Who listens on a TCP port, from /proc/net/tcp{,6} (socket inode) and /proc/<pid>/fd (which
 * process holds that inode). Processes of other users may be invisible without root: the answer
 * then has the address but no pid.
 */
export async function findPortOwners(port: number): Promise<PortOwner[]> {
  const listeners = new Map<string, string>(); // inode -> address
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== "0A") continue; // 0A = LISTEN
      const [hexAddr, hexPort] = local.split(":");
      if (!hexAddr || !hexPort || Number.parseInt(hexPort, 16) !== port) continue;
      const inode = cols[9];
      if (inode) listeners.set(inode, decodeProcAddress(hexAddr));
    }
  }
  if (listeners.size === 0) return [];
  const owners: PortOwner[] = [];
  const found = new Set<string>();
  const pids = (await readdir("/proc").catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const address = inode ? listeners.get(inode) : undefined;
      if (!inode || address === undefined) continue;
      found.add(inode);
      owners.push({ pid: Number(pid), command: await processCommand(Number(pid)), address });
    }
  }
  for (const [inode, address] of listeners) if (!found.has(inode)) owners.push({ address });
  return owners;
}

/** "pid 1234 (python3 app.py --port 8000)" or "an unknown process" — for error messages. */
export function describePortOwners(owners: PortOwner[]): string {
  if (owners.length === 0) return "an unknown process";
  return owners
    .map((o) =>
      o.pid
        ? `pid ${o.pid} (${o.command ?? "?"}) on ${o.address}`
        : `a process not visible to us on ${o.address}`,
    )
    .join(", ");
}

export async function processCommand(pid: number): Promise<string | undefined> {
  const raw = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  const command = raw.split("\0").filter(Boolean).join(" ");
  return command || undefined;
}

/**
 * Does a listener on `held` stop us binding `wanted` on the same port? The same address does, and so do
 * wildcards: 0.0.0.0 covers every IPv4 address, :: (dual stack by default on Linux) every address.
 * An IPv6 listener on ::1 does not block 127.0.0.1, nor one on another specific address.
 */
export function addressesConflict(wanted: string, held: string): boolean {
  const a = unmapV4(wanted);
  const b = unmapV4(held);
  if (a === b) return true;
  const v6 = (x: string) => x.includes(":");
  if (b === "::" || a === "::") return true;
  if (b === "0.0.0.0") return !v6(a);
  if (a === "0.0.0.0") return !v6(b);
  return false;
}

/** The owners whose listening address conflicts with binding `address` (see addressesConflict). */
export function conflictingOwners(owners: PortOwner[], address: string): PortOwner[] {
  return owners.filter((o) => addressesConflict(address, o.address));
}

function unmapV4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

/** /proc/net/tcp{,6} addresses: IPv4 as one little-endian word, IPv6 as four little-endian words. */
export function decodeProcAddress(hex: string): string {
  const word = (h: string) => {
    const n = Number.parseInt(h, 16);
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  };
  if (hex.length === 8) return word(hex).join(".");
  if (hex.length !== 32) return `unknown:${hex}`;
  const bytes = [0, 8, 16, 24].flatMap((i) => word(hex.slice(i, i + 8)));
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join(".")}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(":");
  const head = groups.slice(0, best.at).join(":");
  const tail = groups.slice(best.at + best.len).join(":");
  return `${head}::${tail}`;
}
