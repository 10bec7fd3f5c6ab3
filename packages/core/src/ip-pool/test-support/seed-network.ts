import type { IpNetworkConfig } from "../types.js";

/**
 * The lab network most tests allocate from: 192.168.3.0/24 without DHCP, pool .30 to .40. Data only:
 * no test sends a packet there. A fresh object on every call, so a test may change its copy.
 */
export function seedNetwork(): IpNetworkConfig {
  return {
    cidr: "192.168.3.0/24",
    gateway: "192.168.3.1",
    dns: ["8.8.8.8"],
    dhcp: false,
    pools: [{ start: "192.168.3.30", end: "192.168.3.40" }],
  };
}
