import { InvalidAddressError } from "../errors.js";
import { formatIpv4, ipv6NotSupported, parseIpv4, prefixToMask } from "./ipv4.js";

/** An IPv4 subnet with its usable host range worked out. */
export interface Subnet {
  /** Canonical text, e.g. "192.168.3.0/24". */
  cidr: string;
  network: number;
  prefix: number;
  mask: number;
  netmask: string;
  /** Highest address in the subnet (the broadcast address when prefix <= 30). */
  last: number;
  /** Undefined for /31 and /32, which have no broadcast address. */
  broadcast: number | undefined;
  size: number;
  firstUsable: number;
  lastUsable: number;
  /** 0 for /32: a host route has no address a host could use with an on-link gateway. */
  usableCount: number;
}

const PREFIX = /^(0|[1-9][0-9]?)$/;

/**
 * Parses "a.b.c.d/n" strictly. Host bits set (192.168.3.5/24) is an error, not silently masked,
 * because it usually means the user typed a host address where a network was wanted.
 *
 * Usable addresses: network+1 .. broadcast-1 for /0-/30; both addresses of a /31 (RFC 3021
 * point-to-point links have no network or broadcast address); none for a /32.
 */
export function parseCidr(s: string): Subnet {
  if (typeof s === "string" && s.includes(":")) throw ipv6NotSupported(s);
  if (typeof s !== "string" || !s.includes("/")) {
    throw invalidCidr(String(s), "a network is written as address/prefix, like 192.168.3.0/24");
  }
  const slash = s.indexOf("/");
  const addressText = s.slice(0, slash);
  const prefixText = s.slice(slash + 1);
  if (!PREFIX.test(prefixText) || Number(prefixText) > 32) {
    throw invalidCidr(s, `"/${prefixText}" is not a prefix length; IPv4 prefixes are /0 to /32`);
  }
  let address: number;
  try {
    address = parseIpv4(addressText);
  } catch (error) {
    throw invalidCidr(s, (error as Error).message.replace(/\.$/, ""), error);
  }
  const prefix = Number(prefixText);
  const subnet = subnetOf(address, prefix);
  if (subnet.network !== address) {
    throw new InvalidAddressError(
      "CIDR_HOST_BITS_SET",
      `"${s}" has host bits set: ${addressText} is an address inside ${subnet.cidr}, not the network itself.`,
      {
        hint: `Use the network address: ${subnet.cidr}.`,
        details: { value: s, suggestion: subnet.cidr },
      },
    );
  }
  return subnet;
}

/** The subnet of the given prefix that contains `address`. */
export function subnetOf(address: number, prefix: number): Subnet {
  const mask = prefixToMask(prefix);
  const network = (address & mask) >>> 0;
  const size = 2 ** (32 - prefix);
  const last = network + size - 1;
  let firstUsable = network + 1;
  let lastUsable = last - 1;
  if (prefix === 31) {
    firstUsable = network;
    lastUsable = last;
  } else if (prefix === 32) {
    firstUsable = network + 1;
    lastUsable = network;
  }
  return {
    cidr: `${formatIpv4(network)}/${prefix}`,
    network,
    prefix,
    mask,
    netmask: formatIpv4(mask),
    last,
    broadcast: prefix <= 30 ? last : undefined,
    size,
    firstUsable,
    lastUsable,
    usableCount: Math.max(0, lastUsable - firstUsable + 1),
  };
}

export function subnetContains(subnet: Subnet, address: number): boolean {
  return address >= subnet.network && address <= subnet.last;
}

/** True when `address` can be given to a host: inside the subnet and not its network or broadcast address. */
export function isUsableAddress(subnet: Subnet, address: number): boolean {
  return address >= subnet.firstUsable && address <= subnet.lastUsable;
}

export function subnetsOverlap(a: Subnet, b: Subnet): boolean {
  return a.network <= b.last && b.network <= a.last;
}

function invalidCidr(s: string, why: string, cause?: unknown): InvalidAddressError {
  return new InvalidAddressError("INVALID_CIDR", `"${s}" is not a valid IPv4 network: ${why}.`, {
    hint: "Write the network as address/prefix with the host bits zero, e.g. 192.168.3.0/24.",
    details: { value: s },
    cause,
  });
}
