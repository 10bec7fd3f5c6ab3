import { IpPoolRequestError } from "../errors.js";
import { parseCidr, type Subnet, subnetContains, subnetsOverlap } from "./cidr.js";
import { parseIpv4 } from "./ipv4.js";
import type { IpNetworkConfig, IpPoolConfig } from "./types.js";

/** A network as the allocator sees it: its subnet, gateway, DNS, pools and what may never be handed out. */
export interface NetworkView {
  subnet: Subnet;
  /** The config entry, or undefined for a subnet that is not in the config. */
  configured: IpNetworkConfig | undefined;
  gateway: number;
  dns: string[];
  /** Pool ranges sorted by start, as numbers. */
  pools: [number, number][];
  /** Gateway, excluded addresses and DNS servers inside the subnet. */
  isBlocked(address: number): boolean;
}

/**
 * Finds the network a caller means: a configured name, a configured CIDR, or any other valid CIDR
 * (its gateway is then the subnet's first usable address, the common convention).
 */
export function resolveNetwork(config: IpPoolConfig, network: string, configSource: string): NetworkView {
  const byName = config.networks.find((n) => n.name !== undefined && n.name === network);
  if (byName) return viewOf(byName, parseCidr(byName.cidr));
  const subnet = parseCidr(network);
  const configured = config.networks.find((n) => n.cidr === subnet.cidr);
  if (configured) return viewOf(configured, subnet);
  const overlapping = config.networks.find((n) => subnetsOverlap(parseCidr(n.cidr), subnet));
  if (overlapping) {
    throw new IpPoolRequestError(
      "NETWORK_CONFLICT",
      `${subnet.cidr} overlaps the configured network ${overlapping.cidr} in ${configSource} but is not the same subnet.`,
      {
        hint: `Use --network ${overlapping.cidr}, or change ${configSource} if the subnet really is ${subnet.cidr}.`,
        details: { network: subnet.cidr, configured: overlapping.cidr },
      },
    );
  }
  assertAssignable(subnet);
  if (subnet.usableCount === 0) {
    throw new IpPoolRequestError(
      "NETWORK_TOO_SMALL",
      `${subnet.cidr} is a single-address /32: it has no usable host address to allocate.`,
      {
        hint: "Give the subnet the host will live on, e.g. 192.168.3.0/24 (a /31 point-to-point link has two).",
        details: { network: subnet.cidr },
      },
    );
  }
  const gateway = subnet.firstUsable;
  const dns = config.defaultDns ?? [];
  const dnsInside = addressesInside(subnet, dns);
  return {
    subnet,
    configured: undefined,
    gateway,
    dns,
    pools: [],
    isBlocked: (address) => address === gateway || dnsInside.has(address),
  };
}

/**
 * Address blocks no host may be given as a static unicast address (RFC 6890): "this network",
 * loopback, multicast, and the reserved block that ends in the limited broadcast 255.255.255.255.
 * A configured network may still use them on purpose (the local lab's loopback pool); an
 * unconfigured one is almost always a typo, and its fallback would hand out such an address.
 */
const NOT_ASSIGNABLE: { cidr: string; what: string }[] = [
  { cidr: "0.0.0.0/8", what: '"this network" (RFC 1122), not a host address' },
  { cidr: "127.0.0.0/8", what: "loopback: every host answers it itself" },
  { cidr: "224.0.0.0/4", what: "multicast: it names a group, never one host" },
  { cidr: "240.0.0.0/4", what: "reserved (RFC 1112), and holds the limited broadcast 255.255.255.255" },
];

function assertAssignable(subnet: Subnet): void {
  for (const block of NOT_ASSIGNABLE) {
    if (!subnetsOverlap(subnet, parseCidr(block.cidr))) continue;
    throw new IpPoolRequestError(
      "NETWORK_NOT_ASSIGNABLE",
      `${subnet.cidr} is not configured and overlaps ${block.cidr}, which is ${block.what}; labgate hands out no address there.`,
      {
        hint: "Check the network for a typo. To use such addresses on purpose, add the network with its pools to the IP pool config.",
        details: { network: subnet.cidr, block: block.cidr },
      },
    );
  }
}

/** The configured network that contains `address`, if any. */
export function findNetworkContaining(config: IpPoolConfig, address: number): IpNetworkConfig | undefined {
  return config.networks.find((n) => subnetContains(parseCidr(n.cidr), address));
}

function viewOf(network: IpNetworkConfig, subnet: Subnet): NetworkView {
  const gateway = parseIpv4(network.gateway);
  const excluded = (network.exclude ?? []).map((item): [number, number] =>
    typeof item === "string"
      ? [parseIpv4(item), parseIpv4(item)]
      : [parseIpv4(item.start), parseIpv4(item.end)],
  );
  const dnsInside = addressesInside(subnet, network.dns);
  const pools = network.pools
    .map((p): [number, number] => [parseIpv4(p.start), parseIpv4(p.end)])
    .sort((a, b) => a[0] - b[0]);
  return {
    subnet,
    configured: network,
    gateway,
    dns: [...network.dns],
    pools,
    isBlocked: (address) =>
      address === gateway ||
      dnsInside.has(address) ||
      excluded.some(([s, e]) => address >= s && address <= e),
  };
}

function addressesInside(subnet: Subnet, addresses: string[]): Set<number> {
  return new Set(addresses.map(parseIpv4).filter((a) => subnetContains(subnet, a)));
}
