import { describe, expect, it } from "vitest";
import type { IpLedger } from "./ledger.js";
import { networkConfigAddresses } from "./platform-addresses.js";
import { probePlan } from "./probe.js";
import { ownerNamesHolder, reconcile } from "./reconcile.js";
import type { IpAllocation } from "./types.js";

function entry(ip: string, owner: string, reserved = false): IpAllocation {
  return {
    ip,
    network: "10.0.0.0/24",
    prefix: 24,
    netmask: "255.255.255.0",
    gateway: "10.0.0.1",
    dns: [],
    owner,
    source: "pool",
    allocatedAt: "2026-01-01T00:00:00.000Z",
    ...(reserved ? { reserved: true } : {}),
  };
}

describe("reconcile()", () => {
  const ledger: IpLedger = {
    version: 1,
    allocations: [
      entry("10.0.0.10", "lab:demo/web1"),
      entry("10.0.0.11", "lab:demo/web2"),
      entry("10.0.0.12", "printer", true),
      entry("10.0.0.13", "db1"),
      { ...entry("10.1.0.5", "elsewhere"), network: "10.1.0.0/24", gateway: "10.1.0.1" },
    ],
  };

  it("sorts every in-scope address into matched, leaked, unknown or mismatched", () => {
    const r = reconcile(
      ledger,
      [
        { ip: "10.0.0.10", holder: "web1", seenIn: "state" },
        { ip: "10.0.0.10", holder: "web1", seenIn: "config" }, // seen twice: counted once
        { ip: "10.0.0.13", holder: "db2", seenIn: "state" },
        { ip: "10.0.0.20", holder: "stray", seenIn: "state" },
        { ip: "192.168.9.9", holder: "out-of-scope", seenIn: "state" },
      ],
      ["10.0.0.0/24"],
    );
    expect(r.networks).toEqual(["10.0.0.0/24"]);
    expect(r.matched).toBe(1);
    expect(r.leaked.map((a) => a.ip)).toEqual(["10.0.0.11"]); // the unused reservation is not leaked
    expect(r.unknown).toEqual([
      { ip: "10.0.0.20", holder: "stray", seenIn: "state", network: "10.0.0.0/24" },
    ]);
    expect(r.mismatched.map((m) => [m.allocation.owner, m.used.holder])).toEqual([["db1", "db2"]]);
  });

  it("an owner names a holder by equality or as the last path or colon segment only", () => {
    expect(ownerNamesHolder("web1", "web1")).toBe(true);
    expect(ownerNamesHolder("lab:demo/web1", "web1")).toBe(true);
    expect(ownerNamesHolder("one:web1", "web1")).toBe(true);
    expect(ownerNamesHolder("lab:demo/xweb1", "web1")).toBe(false);
    expect(ownerNamesHolder("web10", "web1")).toBe(false);
  });
});

describe("networkConfigAddresses()", () => {
  it("reads v2 ethernets addresses and v1 subnet addresses, IPv4 only, and survives garbage", () => {
    const v2 =
      "version: 2\nethernets:\n  eth0:\n    addresses: [10.0.0.5/24, 'fd00::5/64']\n    routes: [{to: default, via: 10.0.0.1}]\n";
    expect(networkConfigAddresses(v2)).toEqual(["10.0.0.5"]);
    const v1 =
      "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets:\n      - type: static\n        address: 10.0.0.6/24\n        gateway: 10.0.0.1\n";
    expect(networkConfigAddresses(v1)).toEqual(["10.0.0.6"]);
    expect(networkConfigAddresses(": : not yaml [")).toEqual([]);
  });
});

describe("probePlan()", () => {
  const interfaces = [{ name: "br0", address: "10.0.0.2" }];
  it("defaults to ARP on a directly attached subnet (naming the interface) and to ping elsewhere", () => {
    expect(probePlan("10.0.0.0/24", undefined, interfaces)).toEqual({ method: "arp", interface: "br0" });
    expect(probePlan("10.9.0.0/24", undefined, interfaces)).toEqual({ method: "ping" });
  });
  it("follows the config, and an ARP config on an unattached subnet has no interface to use", () => {
    expect(probePlan("10.0.0.0/24", "ping", interfaces)).toEqual({ method: "ping" });
    expect(probePlan("10.0.0.0/24", "none", interfaces)).toEqual({ method: "none" });
    expect(probePlan("10.9.0.0/24", "arp", interfaces)).toEqual({ method: "arp" });
  });
});
