import { describe, expect, it } from "vitest";
import { type PlanContext, planAllocation, planReservation } from "./allocator.js";
import { validateIpPoolConfig } from "./config.js";
import { emptyLedger, type IpLedger } from "./ledger.js";

// 10.0.0.0/29: usable .1-.6; gateway .1, DNS .6 inside the subnet, .5 excluded, pool .2-.3.
const config = validateIpPoolConfig(
  {
    networks: [
      {
        cidr: "10.0.0.0/29",
        gateway: "10.0.0.1",
        dns: ["10.0.0.6"],
        dhcp: false,
        pools: [{ start: "10.0.0.2", end: "10.0.0.3" }],
        exclude: ["10.0.0.5"],
      },
    ],
  },
  "pools.json",
);

function ctx(ledger: IpLedger): PlanContext {
  return { config, configSource: "pools.json", ledger, now: new Date(0) };
}

describe("SUBNET_EXHAUSTED", () => {
  it("says where every usable address went", () => {
    let ledger = emptyLedger();
    ledger = planReservation(ctx(ledger), "10.0.0.3", "printer").ledger ?? ledger;
    for (const owner of ["a", "b"])
      ledger = planAllocation(ctx(ledger), "10.0.0.0/29", owner).ledger ?? ledger;
    expect(ledger.allocations.map((a) => a.ip)).toEqual(["10.0.0.3", "10.0.0.2", "10.0.0.4"]);
    let error: unknown;
    try {
      planAllocation(ctx(ledger), "10.0.0.0/29", "c");
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({
      code: "SUBNET_EXHAUSTED",
      exitCode: 6,
      message:
        "No usable address is left in 10.0.0.0/29: its 6 usable addresses are all taken " +
        "(2 allocated, 1 reserved, 3 gateway, DNS or excluded).",
      details: { network: "10.0.0.0/29", usable: 6, allocated: 2, reserved: 1, blocked: 3 },
    });
  });

  it("an unconfigured /30 holds one host besides its gateway", () => {
    const first = planAllocation(ctx(emptyLedger()), "10.1.0.0/30", "a");
    expect(first.result).toMatchObject({ ip: "10.1.0.2", gateway: "10.1.0.1", source: "fallback" });
    expect(() => planAllocation(ctx(first.ledger ?? emptyLedger()), "10.1.0.0/30", "b")).toThrow(
      "its 2 usable addresses are all taken (1 allocated, 0 reserved, 1 gateway, DNS or excluded)",
    );
  });
});
