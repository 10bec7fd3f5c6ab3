import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { formatIpv4, isValidIpv4, parseIpv4, prefixToMask, prefixToNetmask } from "./ipv4.js";

describe("parseIpv4", () => {
  it.each([
    ["0.0.0.0", 0],
    ["192.168.3.30", 0xc0a8031e],
    ["10.0.0.1", 0x0a000001],
    ["255.255.255.255", 0xffffffff],
  ])("parses %s", (text, value) => {
    expect(parseIpv4(text)).toBe(value);
  });

  it.each([
    ["192.168.3.300", "300 is larger than 255"],
    ["010.1.1.1", "leading zero"],
    ["1.2.3.04", "leading zero"],
    ["1.2.3", "four dot-separated numbers"],
    ["1.2.3.4.5", "four dot-separated numbers"],
    ["", "four dot-separated numbers"],
    [" 1.2.3.4", "not a decimal number"],
    ["1.2.3.4 ", "not a decimal number"],
    ["1..3.4", "not a decimal number"],
    ["+1.2.3.4", "not a decimal number"],
    ["-1.2.3.4", "not a decimal number"],
    ["0x1.2.3.4", "not a decimal number"],
    ["1e2.1.1.1", "not a decimal number"],
    ["1.2.3.4/24", "not a decimal number"],
    ["١.2.3.4", "not a decimal number"],
  ])("rejects %j (%s)", (text, why) => {
    let error: unknown;
    try {
      parseIpv4(text);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "INVALID_ADDRESS", exitCode: ExitCode.INVALID_INPUT });
    expect((error as Error).message).toContain(why);
    expect((error as Error).message).toContain(JSON.stringify(text).slice(1, -1));
    expect(isValidIpv4(text)).toBe(false);
  });

  it("round-trips every 32-bit value through format and parse", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        expect(parseIpv4(formatIpv4(n))).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips every canonical dotted quad and keeps octet order", () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(octet, octet, octet, octet, (a, b, c, d) => {
        const text = `${a}.${b}.${c}.${d}`;
        const n = parseIpv4(text);
        expect(formatIpv4(n)).toBe(text);
        expect(n).toBe(((a * 256 + b) * 256 + c) * 256 + d);
      }),
    );
  });

  it("rejects any octet written with a leading zero", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 99 }), (position, value) => {
        const octets = ["1", "2", "3", "4"];
        octets[position] = `0${value}`;
        expect(() => parseIpv4(octets.join("."))).toThrow(/leading zero/);
      }),
    );
  });
});

describe("formatIpv4", () => {
  it.each([-1, 2 ** 32, 1.5, Number.NaN])("refuses %s", (n) => {
    expect(() => formatIpv4(n)).toThrow(RangeError);
  });
});

describe("prefixes", () => {
  it.each([
    [0, "0.0.0.0"],
    [8, "255.0.0.0"],
    [23, "255.255.254.0"],
    [24, "255.255.255.0"],
    [31, "255.255.255.254"],
    [32, "255.255.255.255"],
  ])("/%i is %s", (prefix, mask) => {
    expect(prefixToNetmask(prefix)).toBe(mask);
  });

  it("a mask has exactly `prefix` leading one bits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 32 }), (prefix) => {
        const bits = prefixToMask(prefix).toString(2).padStart(32, "0");
        expect(bits).toBe("1".repeat(prefix) + "0".repeat(32 - prefix));
      }),
    );
  });

  it.each([-1, 33, 1.5])("refuses prefix %s", (prefix) => {
    expect(() => prefixToMask(prefix)).toThrow(RangeError);
  });
});
