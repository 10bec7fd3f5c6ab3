import type { IpNetworkConfig, IpPoolConfig } from "../types.js";

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

/**
 * The seed pool config exactly as config/ip_pools.json ships it (config.test proves they are equal):
 * 192.168.3.0/24 and 192.168.2.0/24, pools .30 to .40, DNS 8.8.8.8 and 8.8.4.4. Data only, a fresh object
 * on every call.
 */
export function seedPoolConfig(): IpPoolConfig {
  const network = (third: number): IpNetworkConfig => ({
    cidr: `192.168.${third}.0/24`,
    gateway: `192.168.${third}.1`,
    dns: ["8.8.8.8", "8.8.4.4"],
    dhcp: false,
    pools: [{ start: `192.168.${third}.30`, end: `192.168.${third}.40` }],
    exclude: [],
  });
  return { defaultDns: ["8.8.8.8", "8.8.4.4"], networks: [network(3), network(2)] };
}
