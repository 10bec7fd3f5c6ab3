import type { ResolvedNetwork } from "../types.js";

type StaticNetwork = Extract<ResolvedNetwork, { mode: "static" }>;

/** The static address `ip` on 192.168.3.0/24 as a spec names it (gateway .1, no DNS): what the adapters deploy with. */
export function specStaticNetwork(ip: string): StaticNetwork {
  return {
    mode: "static",
    ip,
    prefix: 24,
    netmask: "255.255.255.0",
    gateway: "192.168.3.1",
    dns: [],
    source: "spec",
  };
}

/** The static address `ip` on 192.168.3.0/24 as the IP pool hands it out, with the pool network's `dns`. */
export function poolStaticNetwork(ip: string, dns: string[]): StaticNetwork {
  return { ...specStaticNetwork(ip), dns, source: "pool" };
}
