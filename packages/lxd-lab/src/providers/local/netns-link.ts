import { readFile, stat } from "node:fs/promises";
import { parseCidr, parseIpv4, type Subnet, subnetOf, subnetsOverlap } from "@labgate/core";
import { execa } from "execa";
import { ToolOutputError } from "../../errors.js";
import type { AppNetns } from "./netns-plan.js";

/** What `ip -j addr show` says about one interface (the fields labgate reads). */
interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  link_type?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** One app's link as the kernel has it now. */
export interface LiveNetns {
  /** Inode of /run/netns/<name> (the namespace's identity); undefined when there is none. */
  inode?: number;
  hostIfindex?: number;
  hostUp: boolean;
  hostHasAddress: boolean;
  appUp: boolean;
  appHasAddress: boolean;
  loUp: boolean;
}

export async function runIp(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const r = await execa("ip", args, { reject: false, timeout: 15_000 });
  return { ok: r.exitCode === 0, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export async function netnsInode(name: string): Promise<number | undefined> {
  const s = await stat(netnsPath(name)).catch(() => undefined);
  return s?.ino;
}

/** `ip -j addr show` in the host's namespace or in `netns`; [] when the interface or namespace is gone. */
export async function ipLinks(netns?: string, dev?: string): Promise<IpLink[]> {
  const args = [...(netns ? ["-n", netns] : []), "-j", "addr", "show", ...(dev ? ["dev", dev] : [])];
  const r = await runIp(args);
  if (!r.ok || r.stdout.trim() === "") return [];
  const parsed = parseIpJson(args, r.stdout);
  return parsed.filter(
    (l): l is IpLink =>
      typeof l === "object" &&
      l !== null &&
      typeof (l as IpLink).ifname === "string" &&
      typeof (l as IpLink).ifindex === "number",
  );
}

/** `ip -j` prints a JSON list; anything else means an ip that labgate does not understand. */
function parseIpJson(args: string[], stdout: string): unknown[] {
  let parsed: unknown;
  let cause: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (error) {
    cause = error;
  }
  if (Array.isArray(parsed)) return parsed;
  throw new ToolOutputError(
    `\`ip ${args.join(" ")}\` did not print a JSON list: ${stdout.trim().slice(0, 200)}`,
    "labgate needs iproute2 with JSON output (`ip -j`, iproute2 4.14 or newer); check `ip -V`.",
    { command: ["ip", ...args] },
    cause,
  );
}

function hasAddress(link: IpLink | undefined, address: string): boolean {
  return (link?.addr_info ?? []).some(
    (a) => a.family === "inet" && a.local === address && a.prefixlen === 30,
  );
}

const isUp = (link: IpLink | undefined) => link?.flags?.includes("UP") === true;

export async function inspectNetns(n: AppNetns): Promise<LiveNetns> {
  const inode = await netnsInode(n.netns);
  const host = (await ipLinks(undefined, n.vethHost))[0];
  const inside = inode === undefined ? [] : await ipLinks(n.netns);
  const app = inside.find((l) => l.ifname === n.vethApp);
  return {
    ...(inode === undefined ? {} : { inode }),
    ...(host ? { hostIfindex: host.ifindex } : {}),
    hostUp: isUp(host),
    hostHasAddress: hasAddress(host, n.hostAddress),
    appUp: isUp(app),
    appHasAddress: hasAddress(app, n.appAddress),
    loUp: isUp(inside.find((l) => l.ifname === "lo")),
  };
}

/** What is missing or wrong on a link, in words; [] when it is whole. */
export function netnsDrift(n: AppNetns, live: LiveNetns): string[] {
  const drift: string[] = [];
  if (live.inode === undefined) return [`network namespace ${n.netns} does not exist`];
  if (live.hostIfindex === undefined) drift.push(`veth ${n.vethHost} is missing`);
  else {
    if (!live.hostHasAddress) drift.push(`${n.vethHost} lacks ${n.hostAddress}/30`);
    if (!live.hostUp) drift.push(`${n.vethHost} is down`);
  }
  if (!live.appHasAddress) drift.push(`${n.vethApp} in ${n.netns} lacks ${n.appAddress}/30`);
  if (!live.appUp) drift.push(`${n.vethApp} in ${n.netns} is down`);
  if (!live.loUp) drift.push(`lo in ${n.netns} is down`);
  return drift;
}

/**
 * Host interfaces and routes whose networks overlap the links' range: with one of them, replies
 * from an app could leave through the wrong interface (or the lab would shadow a real network).
 * Interfaces in `own` (this lab's veth host ends) do not count.
 */
export async function rangeClashes(range: string, own: ReadonlySet<string>): Promise<string[]> {
  const wanted = parseCidr(range);
  const clashes: string[] = [];
  for (const link of await ipLinks()) {
    if (own.has(link.ifname)) continue;
    for (const a of link.addr_info ?? []) {
      if (a.family !== "inet" || !a.local || a.prefixlen === undefined) continue;
      if (subnetsOverlap(subnetOf(parseIpv4(a.local), a.prefixlen), wanted))
        clashes.push(`interface ${link.ifname} has ${a.local}/${a.prefixlen}`);
    }
  }
  const routes = await runIp(["-j", "-4", "route", "show", "table", "main"]);
  const parsed = routes.ok && routes.stdout.trim() ? (JSON.parse(routes.stdout) as unknown) : [];
  for (const r of Array.isArray(parsed) ? parsed : []) {
    const { dst, dev } = r as { dst?: string; dev?: string };
    if (typeof dst !== "string" || dst === "default" || (dev && own.has(dev))) continue;
    const net = routeSubnet(dst);
    if (net && subnetsOverlap(net, wanted)) clashes.push(`route ${dst}${dev ? ` dev ${dev}` : ""}`);
  }
  return [...new Set(clashes)];
}

function routeSubnet(dst: string): Subnet | undefined {
  try {
    return dst.includes("/") ? parseCidr(dst) : subnetOf(parseIpv4(dst), 32);
  } catch {
    return undefined;
  }
}

/** CAP_NET_ADMIN (12) to make links, CAP_SYS_ADMIN (21) for `ip netns add/exec` (mounts). */
export function missingNetnsCapabilities(procStatus: string): string[] {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(procStatus);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  const missing: string[] = [];
  if ((eff & (1n << 12n)) === 0n) missing.push("CAP_NET_ADMIN");
  if ((eff & (1n << 21n)) === 0n) missing.push("CAP_SYS_ADMIN");
  return missing;
}

export async function ownMissingNetnsCapabilities(): Promise<string[]> {
  return missingNetnsCapabilities(await readFile("/proc/self/status", "utf8"));
}
