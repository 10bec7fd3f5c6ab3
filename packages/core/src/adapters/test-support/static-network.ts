import type { ResolvedNetwork } from "../types.js";

/** The static address `ip` on 192.168.3.0/24 as a spec names it (gateway .1, no DNS): what the adapters deploy with. */
export function specStaticNetwork(ip: string): Extract<ResolvedNetwork, { mode: "static" }> {
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
