import { describe, expect, it } from "vitest";
import { type PlanContext, planAllocation, planReservation } from "./allocator.js";
import { validateIpPoolConfig } from "./config.js";
import { emptyLedger, type IpLedger } from "./ledger.js";
import { seedNetwork } from "./test-support/seed-network.js";

const config = validateIpPoolConfig({ networks: [seedNetwork()] }, "pools.json");

function ctx(ledger: IpLedger): PlanContext {
  return { config, configSource: "pools.json", stateSource: "/lab/state.json", ledger, now: new Date(0) };
}

function allocate(ledger: IpLedger, network: string, owner: string): IpLedger {
  const change = planAllocation(ctx(ledger), network, owner);
  return change.ledger ?? ledger;
}

function errorOf(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error("expected an error");
}

describe("subnets that overlap one the ledger already uses", () => {
  it("refuses a wider or narrower unconfigured subnet over recorded addresses, naming them", () => {
    const ledger = allocate(emptyLedger(), "10.9.0.0/24", "web1");
    for (const wider of ["10.9.0.0/16", "10.9.0.128/25", "10.0.0.0/8"]) {
      expect(errorOf(() => planAllocation(ctx(ledger), wider, "web2"))).toMatchObject({
        code: "NETWORK_CONFLICT",
        exitCode: 2,
        message: expect.stringMatching(
          /overlaps 10\.9\.0\.0\/24, on which \/lab\/state\.json already records 1 address \(10\.9\.0\.254 for "web1"/,
        ),
        hint: expect.stringContaining("--network 10.9.0.0/24"),
      });
    }
  });

  it("allows the same subnet again and subnets beside it", () => {
    let ledger = allocate(emptyLedger(), "10.9.0.0/24", "web1");
    ledger = allocate(ledger, "10.9.0.0/24", "web2");
    ledger = allocate(ledger, "10.9.1.0/24", "web3");
    expect(ledger.allocations.map((a) => a.ip)).toEqual(["10.9.0.254", "10.9.0.253", "10.9.1.254"]);
  });

  it("refuses a configured subnet over addresses recorded on an overlapping unconfigured one", () => {
    // Recorded while 192.168.0.0/16 was not in the config; the config now has 192.168.3.0/24.
    const other = validateIpPoolConfig({ networks: [] }, "old.json");
    const ledger =
      planAllocation({ ...ctx(emptyLedger()), config: other }, "192.168.0.0/16", "old").ledger ??
      emptyLedger();
    expect(errorOf(() => planAllocation(ctx(ledger), "192.168.3.0/24", "new"))).toMatchObject({
      code: "NETWORK_CONFLICT",
    });
  });

  it("the owner that already holds an address still gets it back", () => {
    const ledger = allocate(emptyLedger(), "10.9.0.0/24", "web1");
    expect(planAllocation(ctx(ledger), "10.9.0.0/24", "web1").result.ip).toBe("10.9.0.254");
  });

  it("reserve refuses the same way", () => {
    const ledger = allocate(emptyLedger(), "10.9.0.0/24", "web1");
    expect(errorOf(() => planReservation(ctx(ledger), "10.9.5.5", "printer", "10.9.0.0/16"))).toMatchObject({
      code: "NETWORK_CONFLICT",
    });
    expect(planReservation(ctx(ledger), "10.9.0.5", "printer", "10.9.0.0/24").result).toMatchObject({
      ip: "10.9.0.5",
      reserved: true,
    });
  });
});
