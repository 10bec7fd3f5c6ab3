import { InvalidAddressError } from "../errors.js";

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Parses dotted-quad IPv4 into an unsigned 32-bit number. Strict on purpose: leading zeros are
 * rejected because `010.1.1.1` means 8.1.1.1 to some tools (octal) and 10.1.1.1 to others.
 */
export function parseIpv4(s: string): number {
  if (typeof s !== "string") throw invalid(String(s), "it is not a string");
  if (s.includes(":")) throw ipv6NotSupported(s);
  const parts = s.split(".");
  if (parts.length !== 4)
    throw invalid(s, "an IPv4 address has four dot-separated numbers, like 192.168.3.30");
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) {
      const why = /^0[0-9]+$/.test(part)
        ? `"${part}" has a leading zero, which some tools read as octal`
        : `"${part}" is not a decimal number`;
      throw invalid(s, why);
    }
    const octet = Number(part);
    if (octet > 255) throw invalid(s, `${octet} is larger than 255`);
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`${n} is not an IPv4 address as a 32-bit unsigned integer`);
  }
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function isValidIpv4(s: string): boolean {
  try {
    parseIpv4(s);
    return true;
  } catch {
    return false;
  }
}

/** 24 → 0xffffff00 as an unsigned number. */
export function prefixToMask(prefix: number): number {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`${prefix} is not an IPv4 prefix length (0-32)`);
  }
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function prefixToNetmask(prefix: number): string {
  return formatIpv4(prefixToMask(prefix));
}

/** labgate's pools, ledgers and labs are IPv4 only; an IPv6 value gets that answer, not "not a number". */
export function ipv6NotSupported(s: string): InvalidAddressError {
  return new InvalidAddressError(
    "IPV6_NOT_SUPPORTED",
    `"${s.length > 60 ? `${s.slice(0, 60)}...` : s}" looks like IPv6; labgate's IP pools are IPv4 only.`,
    {
      hint: "Give an IPv4 address or network, e.g. 192.168.3.0/24; IPv6 lab networks are not supported yet.",
      details: { value: s },
    },
  );
}

function invalid(s: string, why: string): InvalidAddressError {
  return new InvalidAddressError("INVALID_ADDRESS", `"${s}" is not a valid IPv4 address: ${why}.`, {
    hint: "Write it as four decimal numbers 0-255 without leading zeros, e.g. 192.168.3.30.",
    details: { value: s },
  });
}
