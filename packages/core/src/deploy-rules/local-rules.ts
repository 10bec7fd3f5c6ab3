import { parseCidr, subnetContains } from "../ip-pool/cidr.js";
import { parseIpv4 } from "../ip-pool/ipv4.js";
import type { Finding } from "./findings.js";
import { type DeploySpec, LOCAL_DEFAULT_CIDR } from "./spec.js";

const LOOPBACK = parseCidr("127.0.0.0/8");

/**
 * A `local` node is a process on this machine: it gets a static loopback address (there is no DHCP
 * on lo) and nothing outside 127.0.0.0/8, so a local deployment never sends traffic anywhere else.
 */
export function localNetworkRules(spec: DeploySpec): Finding[] {
  const n = spec.network;
  const out: Finding[] = [];
  for (const key of ["cidr", "ip", "gateway"] as const) {
    const value = n[key];
    if (value === undefined || isLoopback(key === "cidr" ? value.split("/")[0] : value)) continue;
    out.push({
      code: "LOCAL_NETWORK_NOT_LOOPBACK",
      severity: "error",
      field: `network.${key}`,
      message: `network.${key} ${value} is not a loopback address: a local node runs on this machine and may only use 127.0.0.0/8.`,
      fix: `Use an address in ${LOCAL_DEFAULT_CIDR} (e.g. "ip": "127.0.0.2"), or leave network empty to take one from the loopback pool.`,
    });
  }
  if (n.dhcp === true) {
    out.push({
      code: "LOCAL_NO_DHCP",
      severity: "error",
      field: "network.dhcp",
      message: "network.dhcp is true, but the loopback interface has no DHCP server.",
      fix: "Remove dhcp; the node gets a static loopback address from the pool.",
    });
  }
  if (!n.ip && out.length === 0) {
    out.push({
      code: "STATIC_ADDRESS_FROM_POOL",
      severity: "info",
      field: "network.ip",
      message: `No network.ip: an address in ${n.cidr ?? LOCAL_DEFAULT_CIDR} is taken from the loopback IP pool and recorded, so two local nodes never share one.`,
      fix: "Nothing to do; set network.ip (e.g. 127.0.0.2) to choose it yourself.",
    });
  }
  return out;
}

function isLoopback(address: string | undefined): boolean {
  try {
    return address !== undefined && subnetContains(LOOPBACK, parseIpv4(address));
  } catch {
    // Malformed addresses are reported by the spec parser.
    return true;
  }
}
