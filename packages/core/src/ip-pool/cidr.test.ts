import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { isUsableAddress, parseCidr, subnetContains, subnetOf, subnetsOverlap } from "./cidr.js";
import { formatIpv4, parseIpv4 } from "./ipv4.js";

describe("parseCidr", () => {
  it("works out a /24", () => {
    const s = parseCidr("192.168.3.0/24");
    expect(s).toMatchObject({
      cidr: "192.168.3.0/24",
      prefix: 24,
      netmask: "255.255.255.0",
      size: 256,
      usableCount: 254,
    });
    expect(formatIpv4(s.firstUsable)).toBe("192.168.3.1");
    expect(formatIpv4(s.lastUsable)).toBe("192.168.3.254");
    expect(formatIpv4(s.broadcast as number)).toBe("192.168.3.255");
  });

  it("gives a /30 two hosts, a /31 both addresses (RFC 3021) and a /32 none", () => {
    const p30 = parseCidr("10.0.0.4/30");
    expect([formatIpv4(p30.firstUsable), formatIpv4(p30.lastUsable), p30.usableCount]).toEqual([
      "10.0.0.5",
      "10.0.0.6",
      2,
    ]);
    const p31 = parseCidr("10.0.0.6/31");
    expect([formatIpv4(p31.firstUsable), formatIpv4(p31.lastUsable), p31.usableCount]).toEqual([
      "10.0.0.6",
      "10.0.0.7",
      2,
    ]);
    expect(p31.broadcast).toBeUndefined();
    const p32 = parseCidr("10.0.0.9/32");
    expect(p32.usableCount).toBe(0);
    expect(isUsableAddress(p32, parseIpv4("10.0.0.9"))).toBe(false);
  });

  it("accepts /0", () => {
    expect(parseCidr("0.0.0.0/0")).toMatchObject({ size: 2 ** 32, usableCount: 2 ** 32 - 2 });
  });

  it.each([
    ["192.168.3.0/33", "INVALID_CIDR", "/0 to /32"],
    ["192.168.3.0/024", "INVALID_CIDR", "not a prefix length"],
    ["192.168.3.0/", "INVALID_CIDR", "not a prefix length"],
    ["192.168.3.0/-1", "INVALID_CIDR", "not a prefix length"],
    ["192.168.3.0", "INVALID_CIDR", "address/prefix"],
    ["192.168.3.300/24", "INVALID_CIDR", "larger than 255"],
    ["010.1.1.0/24", "INVALID_CIDR", "leading zero"],
    ["192.168.3.5/24", "CIDR_HOST_BITS_SET", "192.168.3.0/24"],
    ["10.1.0.0/8", "CIDR_HOST_BITS_SET", "10.0.0.0/8"],
  ])("rejects %s with %s", (text, code, mention) => {
    expect(() => parseCidr(text)).toThrow(
      expect.objectContaining({ code, exitCode: ExitCode.INVALID_INPUT }),
    );
    expect(() => parseCidr(text)).toThrow(mention);
  });

  it("suggests the network address when host bits are set", () => {
    expect(() => parseCidr("192.168.3.77/26")).toThrow(
      expect.objectContaining({ details: { value: "192.168.3.77/26", suggestion: "192.168.3.64/26" } }),
    );
  });
});

describe("subnet arithmetic (properties)", () => {
  const address = fc.integer({ min: 0, max: 0xffffffff });
  const prefix = fc.integer({ min: 0, max: 32 });

  it("the subnet of an address contains it, is aligned and parses back to itself", () => {
    fc.assert(
      fc.property(address, prefix, (a, p) => {
        const s = subnetOf(a, p);
        expect(subnetContains(s, a)).toBe(true);
        expect(s.network % s.size).toBe(0);
        expect(s.last - s.network + 1).toBe(s.size);
        expect(parseCidr(s.cidr)).toEqual(s);
      }),
      { numRuns: 1000 },
    );
  });

  it("usable addresses exclude network and broadcast exactly when the prefix is /30 or shorter", () => {
    fc.assert(
      fc.property(address, prefix, (a, p) => {
        const s = subnetOf(a, p);
        const expected = p <= 30 ? s.size - 2 : p === 31 ? 2 : 0;
        expect(s.usableCount).toBe(expected);
        expect(isUsableAddress(s, s.network)).toBe(p === 31);
        expect(isUsableAddress(s, s.last)).toBe(p === 31);
        if (p <= 30) expect(isUsableAddress(s, a)).toBe(a !== s.network && a !== s.last);
      }),
      { numRuns: 1000 },
    );
  });

  it("two subnets overlap exactly when one contains the other's network address", () => {
    fc.assert(
      fc.property(address, prefix, address, prefix, (a, p, b, q) => {
        const x = subnetOf(a, p);
        const y = subnetOf(b, q);
        expect(subnetsOverlap(x, y)).toBe(subnetContains(x, y.network) || subnetContains(y, x.network));
      }),
      { numRuns: 1000 },
    );
  });
});
