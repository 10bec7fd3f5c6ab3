import { describe, expect, it } from "vitest";
import type { ResourceRecord, StepContext } from "../engine/step.js";
import { lxdLabOptions } from "../providers/lxd/lxd-lab-options.js";
import { parseLabSpec } from "../spec/parse-lab-spec.js";
import { lbDownAfter, type ServerTransition } from "./lb-down-watch.js";
import { lbWatchTarget } from "./lb-watch-target.js";

/** A read-only context over recorded resources: lbWatchTarget only reads the spec and the state. */
function ctxWith(spec: StepContext["spec"], resources: ResourceRecord[]): StepContext {
  return {
    spec,
    stateDir: "/nonexistent",
    signal: new AbortController().signal,
    log: () => {},
    record: async () => {
      throw new Error("read-only");
    },
    forget: async () => {
      throw new Error("read-only");
    },
    resources: (kind) => resources.filter((r) => kind === undefined || r.kind === kind),
  };
}

describe("where the LB's server states are read during faults", () => {
  it("local lab: the stats listener on the lab address, servers named like the apps", () => {
    const spec = parseLabSpec({ lb: { statsPort: 18404 } }, "lab.yaml");
    const t = lbWatchTarget(ctxWith(spec, []), "local");
    expect(t?.statsUrl).toBe("http://127.0.0.1:18404/stats;csv");
    expect(t?.serverOf("app2")).toBe("app2");
  });

  it("LXD lab: the LB container's recorded address, servers named after the instances; none before it has one", () => {
    // 10.20.0.x is data only: nothing is sent anywhere in this test.
    const spec = parseLabSpec(
      { name: "edge", provider: "lxd", network: { cidr: "10.20.0.0/24" } },
      "lab.yaml",
    );
    const o = lxdLabOptions(spec);
    expect(lbWatchTarget(ctxWith(spec, []), "lxd")).toBeUndefined();
    const address: ResourceRecord = {
      kind: "address",
      id: o.lb.instance,
      stepId: "allocate-addresses",
      data: { ip: "10.20.0.13", prefix: 24, gateway: "10.20.0.1", dns: ["10.20.0.1"] },
    };
    const t = lbWatchTarget(ctxWith(spec, [address]), "lxd");
    expect(t?.statsUrl).toBe(`http://10.20.0.13:${o.statsPort}/stats;csv`);
    expect(t?.serverOf("app2")).toBe("edge-app2");
    // The record is read as the LXD provider reads it: an unusable address is refused, naming the field.
    const corrupt = { ...address, data: { ...address.data, ip: 42 } };
    expect(() => lbWatchTarget(ctxWith(spec, [corrupt]), "lxd")).toThrow(
      expect.objectContaining({ code: "STATE_CORRUPT", details: expect.objectContaining({ field: "ip" }) }),
    );
  });

  it("OpenNebula: not watched (the LB VM's stats port is not forwarded here)", () => {
    const spec = parseLabSpec({ provider: "opennebula", network: { cidr: "10.20.0.0/24" } }, "lab.yaml");
    expect(lbWatchTarget(ctxWith(spec, []), "opennebula")).toBeUndefined();
  });
});

describe("lbDownAfter: when HAProxy showed the server DOWN, from the fault's start", () => {
  const seen: ServerTransition[] = [
    { atMs: 0, server: "app1", status: "UP" },
    { atMs: 0, server: "app2", status: "UP" },
    { atMs: 1_450, server: "app2", status: "UP 1/2" },
    { atMs: 2_460, server: "app2", status: "DOWN" },
    { atMs: 5_100, server: "app2", status: "UP" },
    { atMs: 9_000, server: "app2", status: "DOWN 1/2" },
  ];
  it("counts the first DOWN at or after the start and inside the window; going down (UP 1/2) is not down", () => {
    expect(lbDownAfter(seen, "app2", 1_000)).toBe(1_460);
    expect(lbDownAfter(seen, "app2", 1_000, 2_000)).toBeNull();
    expect(lbDownAfter(seen, "app1", 0)).toBeNull();
    // A later DOWN after the server came back belongs to another window.
    expect(lbDownAfter(seen, "app2", 6_000, 8_000)).toBeNull();
  });
});
