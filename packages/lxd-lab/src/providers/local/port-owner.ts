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

function decodeProcAddress(hex: string): string {
  if (hex.length === 8) {
    // IPv4 in host (little-endian) byte order.
    const n = Number.parseInt(hex, 16);
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join(".");
  }
  if (/^0+$/.test(hex)) return "::";
  if (hex === "00000000000000000000000001000000") return "::1";
  return `ipv6:${hex}`;
}
