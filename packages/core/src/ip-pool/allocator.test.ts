import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { type PlanContext, planAllocation, planRelease, planReservation } from "./allocator.js";
import { isUsableAddress, parseCidr } from "./cidr.js";
import { validateIpPoolConfig } from "./config.js";
import { formatIpv4, parseIpv4 } from "./ipv4.js";
import { emptyLedger, type IpLedger, validateLedger } from "./ledger.js";
import { seedPoolConfig } from "./test-support/seed-network.js";
import type { IpAllocation, IpNetworkConfig, IpPoolConfig } from "./types.js";

const SOURCE = "test-pools.json";
const NOW = new Date("2026-11-22T12:00:00.000Z");

const [lab3, lab2] = seedPoolConfig().networks as [IpNetworkConfig, IpNetworkConfig];
const seedConfig = validateIpPoolConfig(
  { defaultDns: ["1.1.1.1"], networks: [{ ...lab3, name: "lab3" }, lab2] },
  SOURCE,
);

/** Applies a sequence of changes the way IpPool does, keeping the ledger between them. */
class Harness {
  ledger: IpLedger = emptyLedger();
  constructor(readonly config: IpPoolConfig = seedConfig) {}
  private ctx(): PlanContext {
    return { config: this.config, configSource: SOURCE, ledger: this.ledger, now: NOW };
  }
  allocate(network: string, owner: string): IpAllocation {
    const change = planAllocation(this.ctx(), network, owner);
    if (change.ledger) this.ledger = change.ledger;
    return change.result;
  }
  reserve(ip: string, owner: string, network?: string): IpAllocation {
    const change = planReservation(this.ctx(), ip, owner, network);
    if (change.ledger) this.ledger = change.ledger;
    return change.result;
  }
  release(by: Parameters<typeof planRelease>[1]): IpAllocation[] {
    const change = planRelease(this.ctx(), by);
    if (change.ledger) this.ledger = change.ledger;
    return change.result;
  }
}

function config(network: Record<string, unknown>, extra: Record<string, unknown> = {}): IpPoolConfig {
  return validateIpPoolConfig(
    { ...extra, networks: [{ dns: ["9.9.9.9"], dhcp: false, pools: [], ...network }] },
    SOURCE,
  );
}

function catchError(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error("expected an error");
}

describe("allocate", () => {
  it("hands out the lowest free pool address with everything a static config needs", () => {
    const h = new Harness();
    expect(h.allocate("192.168.3.0/24", "web1")).toEqual({
      ip: "192.168.3.30",
      network: "192.168.3.0/24",
      prefix: 24,
      netmask: "255.255.255.0",
      gateway: "192.168.3.1",
      dns: ["8.8.8.8", "8.8.4.4"],
      owner: "web1",
      source: "pool",
      allocatedAt: NOW.toISOString(),
    });
    expect(h.allocate("192.168.3.0/24", "web2").ip).toBe("192.168.3.31");
    expect(h.allocate("192.168.2.0/24", "web1").ip).toBe("192.168.2.30");
  });

  it("is idempotent per owner and network, and does not rewrite the ledger then", () => {
    const h = new Harness();
    const a = h.allocate("192.168.3.0/24", "web1");
    h.allocate("192.168.3.0/24", "web2");
    const change = planAllocation(
      { config: seedConfig, configSource: SOURCE, ledger: h.ledger, now: new Date() },
      "192.168.3.0/24",
      "web1",
    );
    expect(change.result).toEqual(a);
    expect(change.ledger).toBeUndefined();
  });

  it("accepts a configured network by name", () => {
    const h = new Harness();
    expect(h.allocate("lab3", "db").network).toBe("192.168.3.0/24");
    expect(h.allocate("192.168.3.0/24", "db").ip).toBe("192.168.3.30");
  });

  it("reuses a released address (lowest free first)", () => {
    const h = new Harness();
    for (const owner of ["a", "b", "c"]) h.allocate("192.168.3.0/24", owner);
    h.release({ owner: "b" });
    expect(h.allocate("192.168.3.0/24", "d").ip).toBe("192.168.3.31");
  });

  it("falls back to .254 and descends when the pool is exhausted", () => {
    const h = new Harness();
    const pool = Array.from({ length: 11 }, (_, i) => h.allocate("192.168.3.0/24", `p${i}`));
    expect(pool.map((a) => a.ip)).toEqual(Array.from({ length: 11 }, (_, i) => `192.168.3.${30 + i}`));
    const f1 = h.allocate("192.168.3.0/24", "f1");
    const f2 = h.allocate("192.168.3.0/24", "f2");
    expect([f1.ip, f1.source, f2.ip, f2.source]).toEqual([
      "192.168.3.254",
      "fallback",
      "192.168.3.253",
      "fallback",
    ]);
    expect(f1).toMatchObject({ gateway: "192.168.3.1", dns: ["8.8.8.8", "8.8.4.4"], prefix: 24 });
    expect(f1.fallbackReason).toContain("no free address");
    // a pool address freed later is preferred again over the next fallback
    h.release({ ip: "192.168.3.35" });
    expect(h.allocate("192.168.3.0/24", "p-again")).toMatchObject({ ip: "192.168.3.35", source: "pool" });
  });

  it("skips the gateway, excluded addresses, DNS servers in the subnet and allocated addresses, in the pool and in fallback", () => {
    const h = new Harness(
      config({
        cidr: "10.0.0.0/24",
        gateway: "10.0.0.254",
        dns: ["10.0.0.253", "9.9.9.9"],
        pools: [{ start: "10.0.0.10", end: "10.0.0.14" }],
        exclude: ["10.0.0.11", { start: "10.0.0.250", end: "10.0.0.252" }],
      }),
    );
    h.reserve("10.0.0.249", "router");
    const ips = Array.from({ length: 6 }, (_, i) => h.allocate("10.0.0.0/24", `h${i}`)).map(
      (a) => `${a.ip}:${a.source}`,
    );
    expect(ips).toEqual([
      "10.0.0.10:pool",
      "10.0.0.12:pool",
      "10.0.0.13:pool",
      "10.0.0.14:pool",
      "10.0.0.248:fallback",
      "10.0.0.247:fallback",
    ]);
  });

  it("skips a gateway that sits inside the pool", () => {
    const h = new Harness(
      config({
        cidr: "10.0.0.0/24",
        gateway: "10.0.0.10",
        pools: [{ start: "10.0.0.10", end: "10.0.0.11" }],
      }),
    );
    expect(h.allocate("10.0.0.0/24", "a").ip).toBe("10.0.0.11");
  });

  it("falls back for a configured network without pools, saying why", () => {
    const h = new Harness(config({ cidr: "10.1.0.0/16", gateway: "10.1.0.1" }));
    expect(h.allocate("10.1.0.0/16", "a")).toMatchObject({
      ip: "10.1.255.254",
      source: "fallback",
      gateway: "10.1.0.1",
      fallbackReason: `10.1.0.0/16 has no pools in ${SOURCE}`,
    });
  });

  it("falls back when every pool address is excluded, and says so rather than 'in use'", () => {
    const h = new Harness(
      config({
        cidr: "10.3.0.0/24",
        gateway: "10.3.0.1",
        pools: [{ start: "10.3.0.10", end: "10.3.0.12" }],
        exclude: [{ start: "10.3.0.10", end: "10.3.0.11" }, "10.3.0.12", "10.3.0.254"],
      }),
    );
    expect(h.allocate("10.3.0.0/24", "x")).toMatchObject({
      ip: "10.3.0.253",
      source: "fallback",
      fallbackReason: `every address in the pools of 10.3.0.0/24 is excluded, the gateway or a DNS server in ${SOURCE}`,
    });
  });

  it("falls back for a network that is not configured: gateway is the first usable address, DNS the default", () => {
    const h = new Harness();
    const a = h.allocate("172.16.5.0/24", "x");
    expect(a).toMatchObject({
      ip: "172.16.5.254",
      network: "172.16.5.0/24",
      prefix: 24,
      netmask: "255.255.255.0",
      gateway: "172.16.5.1",
      dns: ["1.1.1.1"],
      source: "fallback",
      fallbackReason: `172.16.5.0/24 is not in ${SOURCE}`,
    });
    expect(h.allocate("172.16.5.0/24", "y").ip).toBe("172.16.5.253");
  });

  it("gives an unconfigured network no DNS when the config has no defaultDns", () => {
    const h = new Harness(config({ cidr: "10.0.0.0/24", gateway: "10.0.0.1" }));
    expect(h.allocate("10.9.9.0/24", "x").dns).toEqual([]);
  });

  it("rejects a network with host bits set, a bad address and /33", () => {
    const h = new Harness();
    expect(catchError(() => h.allocate("192.168.3.5/24", "x"))).toMatchObject({
      code: "CIDR_HOST_BITS_SET",
      exitCode: 2,
    });
    expect(catchError(() => h.allocate("192.168.3.300/24", "x"))).toMatchObject({
      code: "INVALID_CIDR",
      exitCode: 2,
    });
    expect(catchError(() => h.allocate("192.168.3.0/33", "x"))).toMatchObject({
      code: "INVALID_CIDR",
      exitCode: 2,
    });
    expect(catchError(() => h.allocate("nonsense", "x"))).toMatchObject({
      code: "INVALID_CIDR",
      exitCode: 2,
    });
  });

  it("rejects a subnet that overlaps a configured network without being it", () => {
    const h = new Harness();
    expect(catchError(() => h.allocate("192.168.3.0/25", "x"))).toMatchObject({
      code: "NETWORK_CONFLICT",
      exitCode: 2,
      message: expect.stringContaining("192.168.3.0/24"),
    });
    expect(catchError(() => h.allocate("192.168.0.0/16", "x"))).toMatchObject({ code: "NETWORK_CONFLICT" });
  });

  it("rejects bad owners", () => {
    const h = new Harness();
    for (const owner of ["", " web1", "a\nb", "x".repeat(129)]) {
      expect(catchError(() => h.allocate("192.168.3.0/24", owner))).toMatchObject({
        code: "INVALID_OWNER",
        exitCode: 2,
      });
    }
  });

  it("/31: both addresses are usable (RFC 3021); the gateway takes one, the host the other", () => {
    const h = new Harness();
    expect(h.allocate("10.0.0.6/31", "p2p")).toMatchObject({
      ip: "10.0.0.7",
      gateway: "10.0.0.6",
      prefix: 31,
      netmask: "255.255.255.254",
    });
    expect(catchError(() => h.allocate("10.0.0.6/31", "other"))).toMatchObject({
      code: "SUBNET_EXHAUSTED",
      exitCode: ExitCode.EXHAUSTED,
    });
  });

  it("/32: a clear error, nothing recorded", () => {
    const h = new Harness();
    expect(catchError(() => h.allocate("10.0.0.9/32", "x"))).toMatchObject({
      code: "NETWORK_TOO_SMALL",
      exitCode: 2,
    });
    expect(h.ledger.allocations).toEqual([]);
  });

  it("reports SUBNET_EXHAUSTED (exit 6) when no usable address is left at all", () => {
    const h = new Harness(
      config({
        cidr: "10.0.0.0/29",
        gateway: "10.0.0.1",
        pools: [{ start: "10.0.0.2", end: "10.0.0.3" }],
        exclude: ["10.0.0.5"],
      }),
    );
    const got = Array.from({ length: 4 }, (_, i) => h.allocate("10.0.0.0/29", `h${i}`).ip);
    expect(got).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.6", "10.0.0.4"]);
    const error = catchError(() => h.allocate("10.0.0.0/29", "one-too-many"));
    expect(error).toMatchObject({
      code: "SUBNET_EXHAUSTED",
      exitCode: 6,
      message: expect.stringContaining("10.0.0.0/29"),
    });
    expect(error.hint).toContain("release");
    // the owner that already holds one still gets it back
    expect(h.allocate("10.0.0.0/29", "h0").ip).toBe("10.0.0.2");
  });
});

describe("reserve", () => {
  it("holds an address out of use; allocate skips it and returns it to its owner", () => {
    const h = new Harness();
    expect(h.reserve("192.168.3.30", "printer")).toMatchObject({
      ip: "192.168.3.30",
      source: "pool",
      reserved: true,
      gateway: "192.168.3.1",
    });
    expect(h.reserve("192.168.3.200", "nas")).toMatchObject({ source: "fallback", reserved: true });
    expect(h.allocate("192.168.3.0/24", "web1").ip).toBe("192.168.3.31");
    expect(h.allocate("192.168.3.0/24", "printer").ip).toBe("192.168.3.30");
  });

  it("is idempotent for the same owner and refuses an address someone else holds", () => {
    const h = new Harness();
    const first = h.reserve("192.168.3.50", "nas");
    expect(h.reserve("192.168.3.50", "nas")).toEqual(first);
    expect(catchError(() => h.reserve("192.168.3.50", "other"))).toMatchObject({
      code: "ADDRESS_TAKEN",
      exitCode: 2,
      message: expect.stringContaining('"nas"'),
    });
  });

  it("refuses the gateway, the network and broadcast addresses and bad addresses", () => {
    const h = new Harness();
    expect(catchError(() => h.reserve("192.168.3.1", "x"))).toMatchObject({ code: "ADDRESS_IS_GATEWAY" });
    expect(catchError(() => h.reserve("192.168.3.0", "x"))).toMatchObject({ code: "ADDRESS_NOT_USABLE" });
    expect(catchError(() => h.reserve("192.168.3.255", "x"))).toMatchObject({ code: "ADDRESS_NOT_USABLE" });
    expect(catchError(() => h.reserve("192.168.3.300", "x"))).toMatchObject({ code: "INVALID_ADDRESS" });
  });

  it("needs --network for an address outside every configured network, and checks it", () => {
    const h = new Harness();
    expect(catchError(() => h.reserve("10.5.5.5", "x"))).toMatchObject({
      code: "NETWORK_REQUIRED",
      exitCode: 2,
    });
    expect(catchError(() => h.reserve("10.5.5.5", "x", "10.6.0.0/16"))).toMatchObject({
      code: "ADDRESS_OUTSIDE_NETWORK",
    });
    expect(h.reserve("10.5.5.5", "x", "10.5.0.0/16")).toMatchObject({
      network: "10.5.0.0/16",
      gateway: "10.5.0.1",
      reserved: true,
    });
  });
});

describe("release", () => {
  it("releases all of an owner's addresses, or only those on one network", () => {
    const h = new Harness();
    h.allocate("192.168.3.0/24", "web1");
    h.allocate("192.168.2.0/24", "web1");
    h.allocate("192.168.3.0/24", "web2");
    expect(h.release({ owner: "web1", network: "192.168.2.0/24" }).map((a) => a.ip)).toEqual([
      "192.168.2.30",
    ]);
    expect(h.release({ owner: "web1" }).map((a) => a.ip)).toEqual(["192.168.3.30"]);
    expect(h.ledger.allocations.map((a) => a.owner)).toEqual(["web2"]);
  });

  it("releases one address", () => {
    const h = new Harness();
    h.allocate("192.168.3.0/24", "web1");
    expect(h.release({ ip: "192.168.3.30" })).toHaveLength(1);
    expect(h.ledger.allocations).toEqual([]);
  });

  it("rejects an unknown owner, naming the known ones", () => {
    const h = new Harness();
    h.allocate("192.168.3.0/24", "web1");
    expect(catchError(() => h.release({ owner: "web9" }))).toMatchObject({
      code: "UNKNOWN_OWNER",
      exitCode: 2,
      message: expect.stringContaining("web1"),
    });
    expect(catchError(() => h.release({ owner: "web1", network: "192.168.2.0/24" }))).toMatchObject({
      code: "UNKNOWN_OWNER",
    });
    expect(h.ledger.allocations).toHaveLength(1);
  });

  it("lists at most ten known owners and counts the rest", () => {
    const h = new Harness();
    for (let i = 10; i < 22; i++) h.allocate("192.168.3.0/24", `vm${i}`);
    const error = catchError(() => h.release({ owner: "vm99" }));
    expect(error.message).toBe(
      '"vm99" holds no address; known owners: vm10, vm11, vm12, vm13, vm14, vm15, vm16, vm17, vm18, vm19 and 2 more.',
    );
  });

  it("rejects an address nobody holds and a malformed one", () => {
    const h = new Harness();
    expect(catchError(() => h.release({ ip: "192.168.3.77" }))).toMatchObject({
      code: "ADDRESS_NOT_ALLOCATED",
      exitCode: 2,
    });
    expect(catchError(() => h.release({ ip: "010.1.1.1" }))).toMatchObject({ code: "INVALID_ADDRESS" });
  });
});

describe("allocation invariants (properties)", () => {
  // A small subnet so that runs reach pool exhaustion, fallback and SUBNET_EXHAUSTED.
  const small = config({
    cidr: "10.20.30.0/27",
    gateway: "10.20.30.1",
    dns: ["10.20.30.2"],
    pools: [
      { start: "10.20.30.20", end: "10.20.30.23" },
      { start: "10.20.30.5", end: "10.20.30.8" },
    ],
    exclude: ["10.20.30.7", { start: "10.20.30.29", end: "10.20.30.29" }],
  });
  const NET = "10.20.30.0/27";
  const subnet = parseCidr(NET);
  const blocked = new Set(["10.20.30.1", "10.20.30.2", "10.20.30.7", "10.20.30.29"].map(parseIpv4));
  const poolAddresses = [5, 6, 8, 20, 21, 22, 23].map((h) => subnet.network + h);

  const owner = fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `o${i}`));
  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant("allocate" as const), owner }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), owner }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("reserve" as const),
        owner,
        host: fc.integer({ min: 0, max: 31 }),
      }),
    },
  );

  it("never duplicates, never hands out blocked addresses, is idempotent, prefers pools, then takes the highest free", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const h = new Harness(small);
        for (const o of ops) {
          const before = new Set(h.ledger.allocations.map((a) => parseIpv4(a.ip)));
          const free = (n: number) => isUsableAddress(subnet, n) && !blocked.has(n) && !before.has(n);
          if (o.kind === "allocate") {
            const held = h.ledger.allocations
              .filter((a) => a.owner === o.owner)
              .map((a) => a.ip)
              .sort((x, y) => parseIpv4(x) - parseIpv4(y));
            const freePool = poolAddresses.filter(free).sort((x, y) => x - y);
            const freeFallback = Array.from({ length: subnet.size }, (_, i) => subnet.network + i)
              .filter(free)
              .sort((x, y) => y - x);
            let got: IpAllocation;
            try {
              got = h.allocate(NET, o.owner);
            } catch (error) {
              expect(error).toMatchObject({ code: "SUBNET_EXHAUSTED" });
              expect(held).toEqual([]);
              expect(freePool.length + freeFallback.length).toBe(0);
              continue;
            }
            if (held.length > 0) {
              expect(got.ip).toBe(held[0]);
            } else if (freePool.length > 0) {
              expect(got).toMatchObject({ ip: formatIpv4(freePool[0] as number), source: "pool" });
            } else {
              expect(got).toMatchObject({ ip: formatIpv4(freeFallback[0] as number), source: "fallback" });
            }
            expect(h.allocate(NET, o.owner).ip).toBe(got.ip);
          } else if (o.kind === "release") {
            const held = h.ledger.allocations.filter((a) => a.owner === o.owner).length;
            if (held === 0)
              expect(() => h.release({ owner: o.owner })).toThrow(
                expect.objectContaining({ code: "UNKNOWN_OWNER" }),
              );
            else expect(h.release({ owner: o.owner })).toHaveLength(held);
          } else {
            const ip = formatIpv4(subnet.network + o.host);
            try {
              h.reserve(ip, o.owner);
            } catch (error) {
              expect(["ADDRESS_TAKEN", "ADDRESS_NOT_USABLE", "ADDRESS_IS_GATEWAY"]).toContain(
                (error as { code: string }).code,
              );
            }
          }
          const ips = h.ledger.allocations.map((a) => parseIpv4(a.ip));
          expect(new Set(ips).size).toBe(ips.length);
          for (const a of h.ledger.allocations) {
            const n = parseIpv4(a.ip);
            expect(isUsableAddress(subnet, n)).toBe(true);
            expect(n).not.toBe(parseIpv4("10.20.30.1"));
            if (!a.reserved) expect(blocked.has(n)).toBe(false);
          }
          // whatever the allocator wrote, the ledger validator accepts
          validateLedger(JSON.parse(JSON.stringify(h.ledger)), "mem");
        }
      }),
      { numRuns: 300 },
    );
  });

  it("any number of owners on a fresh /24 get distinct addresses: pool first, then .254 downwards", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), (count) => {
        const h = new Harness();
        const ips = Array.from({ length: count }, (_, i) => h.allocate("192.168.2.0/24", `vm${i}`).ip);
        const expected = [
          ...Array.from({ length: 11 }, (_, i) => `192.168.2.${30 + i}`),
          ...Array.from({ length: 60 }, (_, i) => `192.168.2.${254 - i}`),
        ].slice(0, count);
        expect(ips).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  });
});
