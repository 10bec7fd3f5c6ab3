import { LocalRunner } from "@labgate/core";
import { describe, expect, it } from "vitest";
import {
  compareVersions,
  overrideSetsHome,
  overrideWithHome,
  parseEnviron,
  parseGroupLine,
  parseHomedirs,
  parseLxcVersion,
  parsePasswdLine,
  parseProcGroups,
  parseSnapdVersion,
  snapdSupportsHomedirs,
} from "./parse.js";
import { probeDaemon, probeGroup, probeUser, readEnviron } from "./probes.js";

describe("parsers", () => {
  it("reads snapd versions and knows which support homedirs", () => {
    expect(parseSnapdVersion("snap    2.61.3+22.04\nsnapd   2.61.3+22.04\nseries  16\n")).toBe(
      "2.61.3+22.04",
    );
    expect(parseSnapdVersion("snap 2.58\n")).toBeUndefined();
    expect(snapdSupportsHomedirs("2.59")).toBe(true);
    expect(snapdSupportsHomedirs("2.61.3+22.04")).toBe(true);
    expect(snapdSupportsHomedirs("2.58.3")).toBe(false);
    expect(snapdSupportsHomedirs("2.9")).toBe(false);
    expect(compareVersions("3.0", "2.59")).toBe(1);
    expect(compareVersions("2.59.0", "2.59")).toBe(0);
  });

  it("reads getent, lxc version, /proc status and environ", () => {
    expect(parseGroupLine("lxd:x:998:oneadmin,ubuntu\n")).toEqual({
      name: "lxd",
      gid: 998,
      members: ["oneadmin", "ubuntu"],
    });
    expect(parseGroupLine("lxd:x:998:\n")?.members).toEqual([]);
    expect(parsePasswdLine("oneadmin:x:9869:9869::/var/lib/one:/bin/bash")).toEqual({
      name: "oneadmin",
      uid: 9869,
      gid: 9869,
      home: "/var/lib/one",
    });
    expect(parseLxcVersion("Client version: 5.21.1\nServer version: unreachable\n")).toEqual({
      client: "5.21.1",
      server: "unreachable",
    });
    expect(parseProcGroups("Name:\toned\nGroups:\t9869 998 \nNSpid: 1")).toEqual([9869, 998]);
    expect(parseEnviron("A=1\0HOME=/var/lib/one\0B=x=y\0")).toEqual({
      A: "1",
      HOME: "/var/lib/one",
      B: "x=y",
    });
    expect(parseHomedirs("/srv/homes, /var/lib/\n")).toEqual(["/srv/homes", "/var/lib"]);
  });

  it("recognises a systemd drop-in that sets HOME only inside [Service]", () => {
    expect(overrideSetsHome("[Service]\nEnvironment=HOME=/home/oneadmin\n", "/home/oneadmin")).toBe(true);
    expect(
      overrideSetsHome('[Service]\nEnvironment="LANG=C" "HOME=/home/oneadmin"\n', "/home/oneadmin"),
    ).toBe(true);
    expect(overrideSetsHome("[Unit]\nEnvironment=HOME=/home/oneadmin\n", "/home/oneadmin")).toBe(false);
    expect(overrideSetsHome("[Service]\nEnvironment=HOME=/home/other\n", "/home/oneadmin")).toBe(false);
    expect(
      overrideSetsHome(overrideWithHome("[Service]\nLimitNOFILE=1\n", "/home/oneadmin"), "/home/oneadmin"),
    ).toBe(true);
  });
});

describe("probes on this machine (LocalRunner)", () => {
  const runner = new LocalRunner();

  it("reads a real process's groups and environment through the safe environ script", async () => {
    const daemon = await probeDaemon(runner, "node");
    expect(daemon?.pid).toBeGreaterThan(0);
    expect(Array.isArray(daemon?.groups)).toBe(true);
    expect(daemon?.env.PATH).toBeTruthy();
    const own = await readEnviron(runner, String(process.pid));
    expect(own.stdout).toContain(`PATH=${process.env.PATH}`);
  });

  it("reads real getent entries and reports missing ones as absent", async () => {
    expect((await probeGroup(runner, "root"))?.gid).toBe(0);
    expect((await probeUser(runner, "root"))?.home).toBe("/root");
    expect(await probeGroup(runner, "labgate-no-such-group")).toBeUndefined();
  });
});
