import { ExitCode, type LabgateError } from "@labgate/core";
import { describe, expect, it } from "vitest";
import type { ResourceRecord } from "../engine/step.js";
import { lxdAddressRecord, lxdContainerRecord } from "./lxd/lxd-records.js";
import { oneExposeRecord, oneIpRecord } from "./opennebula/one-records.js";

const record = (kind: string, data: Record<string, unknown> | undefined): ResourceRecord => ({
  kind,
  id: "lab-app1",
  stepId: "s",
  ...(data ? { data } : {}),
});

function refusal(read: () => unknown): LabgateError {
  try {
    read();
  } catch (e) {
    return e as LabgateError;
  }
  throw new Error("the record was accepted");
}

describe("typed step outputs", () => {
  const allocation = {
    ip: "10.20.0.30",
    network: "10.20.0.0/24",
    prefix: 24,
    netmask: "255.255.255.0",
    gateway: "10.20.0.1",
    dns: ["10.20.0.1"],
    owner: "lab:lab/lab-app1",
    source: "pool",
  };

  it("an LXD address record reads as the static address it recorded", () => {
    expect(lxdAddressRecord(record("address", allocation))).toEqual({
      ip: "10.20.0.30",
      prefix: 24,
      gateway: "10.20.0.1",
      dns: ["10.20.0.1"],
    });
  });

  it("a record with a missing or mistyped fact is refused as corrupt state, naming the record and field", () => {
    const missing = refusal(() => lxdAddressRecord(record("address", { ...allocation, ip: undefined })));
    expect(missing.code).toBe("STATE_CORRUPT");
    expect(missing.exitCode).toBe(ExitCode.STATE);
    expect(missing.message).toBe(
      'The lab state\'s address record "lab-app1" has no ip (must be a non-empty string).',
    );
    const mistyped = refusal(() => lxdAddressRecord(record("address", { ...allocation, prefix: "24" })));
    expect(mistyped.message).toBe(
      'The lab state\'s address record "lab-app1" has an unusable prefix (must be a whole number from 0 to 32, got "24").',
    );
    expect(refusal(() => lxdAddressRecord(record("address", undefined))).message).toContain("has no ip");
  });

  it("a container record's payload hash is optional but must be a string", () => {
    expect(lxdContainerRecord(record("container", { role: "app" }))).toEqual({});
    expect(lxdContainerRecord(record("container", { payloadHash: "abc" }))).toEqual({ payloadHash: "abc" });
    expect(refusal(() => lxdContainerRecord(record("container", { payloadHash: 1 }))).code).toBe(
      "STATE_CORRUPT",
    );
  });

  it("an OpenNebula ip record keeps the owner it was allocated to, older forms included", () => {
    expect(
      oneIpRecord(
        record("ip", { name: "app1", ip: "192.168.3.100", owner: "lab:lab:app1", gateway: "192.168.3.1" }),
      ),
    ).toEqual({
      name: "app1",
      ip: "192.168.3.100",
      owner: "lab:lab:app1",
      netmask: "",
      gateway: "192.168.3.1",
      dns: [],
    });
    expect(refusal(() => oneIpRecord(record("ip", { ip: "192.168.3.100" }))).message).toContain(
      "has no name",
    );
    expect(
      refusal(() => oneIpRecord(record("ip", { name: "app1", ip: "x", dns: "8.8.8.8" }))).message,
    ).toContain("unusable dns (must be a list of strings");
  });

  it("an OpenNebula expose record reads route_localnet's earlier value", () => {
    expect(oneExposeRecord(record("one-expose", { driver: "lxd" }))).toEqual({});
    expect(oneExposeRecord(record("one-expose", { localnetDevice: "lxdbr0", localnetWas: "0" }))).toEqual({
      localnetDevice: "lxdbr0",
      localnetWas: "0",
    });
  });
});
