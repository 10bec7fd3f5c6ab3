import { parseCidr, type Subnet, subnetContains } from "./cidr.js";
import { formatIpv4, parseIpv4 } from "./ipv4.js";
import type { IpLedger } from "./ledger.js";
import type { IpAllocation } from "./types.js";

/** An address a platform really uses, and who uses it (an instance or VM name). */
export interface PlatformAddress {
  ip: string;
  /** The instance/VM/interface that holds it, as the platform names it. */
  holder: string;
  /** Where it was seen: "state" (a running instance reports it), "config" (static config says it). */
  seenIn: string;
}

export interface ReconcileReport {
  /** The subnets compared; addresses outside them are neither leaked nor unknown. */
  networks: string[];
  /** Recorded in the ledger, but nothing on the platform uses it. */
  leaked: IpAllocation[];
  /** Used on the platform, not recorded in the ledger. */
  unknown: (PlatformAddress & { network: string })[];
  /** Recorded for one owner, used by a holder the owner does not name. */
  mismatched: { allocation: IpAllocation; used: PlatformAddress }[];
  /** Recorded and used by the holder its owner names. */
  matched: number;
}

/**
 * Whether a ledger owner names a platform holder: the holder itself ("web1"), or an owner that ends
 * in it after a "/" or ":" ("lab:demo/web1", the LXD lab's convention).
 */
export function ownerNamesHolder(owner: string, holder: string): boolean {
  return owner === holder || owner.endsWith(`/${holder}`) || owner.endsWith(`:${holder}`);
}

/**
 * Compares the ledger with what a platform uses, on the given subnets. Reserved entries are people's
 * promises ("the printer has .35"), so a reserved address nothing uses is not called leaked.
 */
export function reconcile(ledger: IpLedger, used: PlatformAddress[], networks: string[]): ReconcileReport {
  const subnets = networks.map(parseCidr);
  const inScope = (ip: string): Subnet | undefined => subnets.find((s) => subnetContains(s, parseIpv4(ip)));
  const usedByIp = new Map<string, PlatformAddress>();
  for (const u of used) {
    const ip = formatIpv4(parseIpv4(u.ip));
    if (inScope(ip) && !usedByIp.has(ip)) usedByIp.set(ip, { ...u, ip });
  }
  const report: ReconcileReport = {
    networks: subnets.map((s) => s.cidr),
    leaked: [],
    unknown: [],
    mismatched: [],
    matched: 0,
  };
  const recorded = new Set<string>();
  for (const allocation of ledger.allocations) {
    if (!inScope(allocation.ip)) continue;
    recorded.add(allocation.ip);
    const user = usedByIp.get(allocation.ip);
    if (!user) {
      if (!allocation.reserved) report.leaked.push(allocation);
    } else if (ownerNamesHolder(allocation.owner, user.holder)) {
      report.matched++;
    } else {
      report.mismatched.push({ allocation, used: user });
    }
  }
  for (const [ip, user] of usedByIp) {
    if (recorded.has(ip)) continue;
    report.unknown.push({ ...user, network: (inScope(ip) as Subnet).cidr });
  }
  const byIp = (a: { ip: string }, b: { ip: string }) => parseIpv4(a.ip) - parseIpv4(b.ip);
  report.leaked.sort(byIp);
  report.unknown.sort(byIp);
  report.mismatched.sort((a, b) => byIp(a.allocation, b.allocation));
  return report;
}
