import { LOCAL_DEFAULT_CIDR } from "../deploy-rules/spec.js";
import { parseCidr } from "../ip-pool/cidr.js";
import { formatIpv4 } from "../ip-pool/ipv4.js";
import type { IpPoolConfig } from "../ip-pool/types.js";

/**
 * The IP pool a `local` node's address comes from: one loopback network whose first address plays the
 * gateway (it is never handed out) and whose pool is the next 253 addresses. Linux routes all of
 * 127.0.0.0/8 to lo, so each node can bind its own address and the same ports.
 */
export function localLoopbackPoolConfig(cidr: string = LOCAL_DEFAULT_CIDR): IpPoolConfig {
  const subnet = parseCidr(cidr);
  const start = Math.min(subnet.firstUsable + 1, subnet.lastUsable);
  const end = Math.min(subnet.firstUsable + 253, subnet.lastUsable);
  return {
    networks: [
      {
        name: "loopback",
        cidr: subnet.cidr,
        gateway: formatIpv4(subnet.firstUsable),
        // Nothing answers DNS on loopback unless the host runs a resolver there; the node is told none.
        dns: [],
        dhcp: false,
        pools: [{ start: formatIpv4(start), end: formatIpv4(end) }],
      },
    ],
  };
}
