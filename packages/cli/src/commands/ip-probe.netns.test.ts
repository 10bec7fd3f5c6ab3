import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode, readLedger } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeRange, sh } from "../../../lxd-lab/src/test-support/free-range.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";

// Issue 16.1: a network namespace joined to this host by a veth pair stands in for the forgotten VM
// that already uses a pool address. Every probe goes out of the host end of the pair and is answered
// (or not) by the namespace end: no packet leaves that pair.

const isRoot = process.getuid?.() === 0;
const tag = randomBytes(3).toString("hex");
const NS = `lgt-ip-${tag}`;
const HOST_IF = `lgtip${tag}a`;
const NS_IF = `lgtip${tag}b`;

let prefix: string;
let dir: string;
let files: string[];
let squatterMac: string;

/** A 10.213.x (the /24's first three octets) no route or address on this machine uses. */
const freeSubnet = () => freeRange("10.213", " for the probe test").slice(0, -".0/24".length);

describe.skipIf(!isRoot)("ip allocate probes the wire (netns + veth pair, needs root)", () => {
  beforeAll(async () => {
    prefix = freeSubnet();
    sh("ip", "netns", "add", NS);
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF);
    sh("ip", "link", "set", NS_IF, "netns", NS);
    sh("ip", "addr", "add", `${prefix}.1/24`, "dev", HOST_IF);
    sh("ip", "link", "set", HOST_IF, "up");
    // The squatter: the first pool address, configured by hand on a host labgate knows nothing of.
    sh("ip", "-n", NS, "addr", "add", `${prefix}.30/24`, "dev", NS_IF);
    sh("ip", "-n", NS, "link", "set", NS_IF, "up");
    squatterMac = (JSON.parse(sh("ip", "-n", NS, "-j", "link", "show", NS_IF))[0] as { address: string })
      .address;

    dir = await mkdtemp(join(tmpdir(), "labgate-ipprobe-"));
    await writeFile(
      join(dir, "pools.json"),
      JSON.stringify({
        networks: [
          {
            cidr: `${prefix}.0/24`,
            gateway: `${prefix}.1`,
            dns: [],
            dhcp: false,
            pools: [{ start: `${prefix}.30`, end: `${prefix}.33` }],
          },
        ],
      }),
    );
    files = ["--ip-pools", join(dir, "pools.json"), "--ip-state", join(dir, "state.json")];
    // The host end needs a moment before the kernel sends ARP out of it.
    for (let i = 0; i < 50 && !sh("ip", "-j", "link", "show", HOST_IF).includes('"LOWER_UP"'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  afterAll(async () => {
    // Deleting the namespace deletes its veth end, which takes the host end with it.
    execFileSync("ip", ["netns", "del", NS], { stdio: "ignore" });
    try {
      execFileSync("ip", ["link", "del", HOST_IF], { stdio: "ignore" });
    } catch {
      // already gone with the namespace
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("skips the address that answers ARP, records it as a conflict with its MAC, and audits both", async () => {
    const r = await cli([
      "ip",
      "allocate",
      "--network",
      `${prefix}.0/24`,
      "--owner",
      "web1",
      ...files,
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(r.stdout)).toMatchObject({ ip: `${prefix}.31`, owner: "web1", source: "pool" });
    expect(r.stderr).toContain(`${prefix}.30 answered an ARP probe from ${squatterMac}`);

    const ledger = await readLedger(join(dir, "state.json"));
    expect(ledger.conflicts).toEqual([
      {
        ip: `${prefix}.30`,
        network: `${prefix}.0/24`,
        via: "arp",
        mac: squatterMac,
        seenAt: expect.any(String),
      },
    ]);
    expect(ledger.allocations.map((a) => a.ip)).toEqual([`${prefix}.31`]);

    const log = await cli(["ip", "log", ...files, "--json"]);
    expect(JSON.parse(log.stdout)).toEqual([
      expect.objectContaining({
        action: "conflict",
        address: `${prefix}.30`,
        mac: squatterMac,
        command: "allocate",
      }),
      expect.objectContaining({
        action: "allocated",
        address: `${prefix}.31`,
        owner: "web1",
        source: "pool",
      }),
    ]);

    const list = await cli(["ip", "list", ...files]);
    expect(list.stderr).toContain(
      `${prefix}.30 is held back as a conflict: it answered ARP from ${squatterMac}`,
    );

    // The conflict stays recorded: the next owner is not offered .30 again (and it is not re-probed).
    const next = await cli([
      "ip",
      "allocate",
      "--network",
      `${prefix}.0/24`,
      "--owner",
      "web2",
      ...files,
      "--json",
    ]);
    expect(JSON.parse(next.stdout).ip).toBe(`${prefix}.32`);
    expect(next.stderr).not.toContain("answered");
  }, 60_000);

  it("ip probe lists what answers in the pools, by ARP and by ping, and records nothing", async () => {
    const before = await readFile(join(dir, "state.json"), "utf8");
    const arp = await cli(["ip", "probe", "--network", `${prefix}.0/24`, ...files, "--json"]);
    expect(arp.code, arp.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(arp.stdout)).toEqual([
      { ip: `${prefix}.30`, via: "arp", mac: squatterMac, recorded: "conflict" },
    ]);
    expect(arp.stderr).toContain("Probed 4 pool addresses");

    const ping = await cli(["ip", "probe", "--network", `${prefix}.0/24`, "--method", "ping", ...files]);
    expect(ping.code, ping.stderr).toBe(ExitCode.OK);
    expect(ping.stdout).toMatch(
      new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.30\\s+ping\\s+-\\s+conflict$`, "m"),
    );
    expect(await readFile(join(dir, "state.json"), "utf8")).toBe(before);
  }, 60_000);

  it("--no-probe trusts the ledger; release --ip forgets a conflict so the address is probed again", async () => {
    const released = await cli(["ip", "release", "--ip", `${prefix}.30`, ...files]);
    expect(released.code, released.stderr).toBe(ExitCode.OK);
    expect((await readLedger(join(dir, "state.json"))).conflicts).toBeUndefined();

    const trusting = await cli([
      "ip",
      "allocate",
      "--network",
      `${prefix}.0/24`,
      "--owner",
      "blind",
      "--no-probe",
      ...files,
      "--json",
    ]);
    expect(JSON.parse(trusting.stdout).ip).toBe(`${prefix}.30`);
    const log = JSON.parse((await cli(["ip", "log", "--ip", `${prefix}.30`, ...files, "--json"])).stdout);
    expect(log.map((e: { action: string }) => e.action)).toEqual([
      "conflict",
      "conflict-cleared",
      "allocated",
    ]);
  }, 60_000);
});
