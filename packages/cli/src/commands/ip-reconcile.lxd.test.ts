import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode, readLedger } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failUnlessUsable, lxdE2eState } from "../../../core/src/platforms/lxd/test-support/lxd-e2e-gate.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { reconcileFixture } from "../test-support/ip-reconcile-fixture.js";

// Issue 16.3 on a real LXD: instances carry their static address the way the LXD lab gives it
// (cloud-init network-config), created empty (no image, never started, so no packet is sent).
// Gated like the other LXD suites: LABGATE_LXD_E2E=0 leaves it out, LABGATE_REQUIRE_LXD=1 requires it.

const lxd = await lxdE2eState([]);

const tag = randomBytes(3).toString("hex");
const LAB = `lgt-iprec-${tag}`;
const NET = "10.214.9";
const instances = { app1: `${LAB}-app1`, app3: `${LAB}-app3`, app4: `${LAB}-app4` };

function lxc(...args: string[]): string {
  return execFileSync("lxc", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `labgate ip reconcile --platform lxd --network <the test subnet>` with `args` after it. */
function reconcileLxd(...args: string[]) {
  return cli(["ip", "reconcile", "--platform", "lxd", "--network", `${NET}.0/24`, ...args]);
}

function networkConfig(ip: string): string {
  return `version: 2\nethernets:\n  eth0:\n    addresses: [${ip}/24]\n    routes: [{to: default, via: ${NET}.1}]\n`;
}

let dir: string;
let files: string[];

failUnlessUsable("ip reconcile on LXD", lxd);

describe.skipIf(!lxd.ok)("ip reconcile --platform lxd (real LXD, empty instances)", () => {
  beforeAll(async () => {
    lxc("init", "--empty", instances.app1, "-c", `cloud-init.network-config=${networkConfig(`${NET}.30`)}`);
    lxc("init", "--empty", instances.app3, "-c", `cloud-init.network-config=${networkConfig(`${NET}.32`)}`);
    lxc("init", "--empty", instances.app4, "-c", `user.network-config=${networkConfig(`${NET}.33`)}`);
    const fixture = await reconcileFixture("labgate-iprec-", NET, 30, 40);
    ({ dir, files } = fixture);
    const { pool } = fixture;
    await pool.allocate(`${NET}.0/24`, `lab:${LAB}/${instances.app1}`); // .30, used by app1: matches
    await pool.allocate(`${NET}.0/24`, `lab:${LAB}/${LAB}-app2`); // .31, app2 was deleted: leaked
    await pool.reserve(`${NET}.32`, "printer").then(() => pool.release({ owner: "printer" })); // app3 .32: unknown
    await pool.reserve(`${NET}.33`, "somebody-else"); // app4 uses .33: mismatched
    await pool.reserve(`${NET}.35`, "switch"); // reserved, unused: not leaked
  }, 120_000);

  afterAll(async () => {
    for (const name of Object.values(instances)) {
      try {
        lxc("delete", "--force", name);
      } catch {
        // not created
      }
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it("finds the leaked, the unknown and the mismatched address, and exits 1", async () => {
    const r = await reconcileLxd(...files, "--json");
    expect(r.code, r.stderr).toBe(ExitCode.CHECK_FAILED);
    const report = JSON.parse(r.stdout);
    expect(report.networks).toEqual([`${NET}.0/24`]);
    expect(report.matched).toBe(1);
    expect(report.leaked.map((a: { ip: string; owner: string }) => [a.ip, a.owner])).toEqual([
      [`${NET}.31`, `lab:${LAB}/${LAB}-app2`],
    ]);
    expect(report.unknown).toEqual([
      {
        ip: `${NET}.32`,
        holder: instances.app3,
        seenIn: "cloud-init.network-config",
        network: `${NET}.0/24`,
      },
    ]);
    expect(report.mismatched).toEqual([
      expect.objectContaining({
        allocation: expect.objectContaining({ ip: `${NET}.33`, owner: "somebody-else" }),
        used: expect.objectContaining({ holder: instances.app4 }),
      }),
    ]);
    expect(r.stderr).toContain("1 match, 1 leaked, 1 unknown, 1 with another owner");
  }, 60_000);

  it("--lab takes the platform and the subnet from a lab spec", async () => {
    const spec = join(dir, "lab.yaml");
    await writeFile(spec, `name: ${LAB}\nprovider: lxd\nnetwork:\n  cidr: ${NET}.0/24\n  dhcp: false\n`);
    const r = await cli(["ip", "reconcile", "--lab", spec, ...files, "--json"]);
    expect(r.code, r.stderr).toBe(ExitCode.CHECK_FAILED);
    const report = JSON.parse(r.stdout);
    expect(report.networks).toEqual([`${NET}.0/24`]);
    expect([report.leaked.length, report.unknown.length, report.mismatched.length]).toEqual([1, 1, 1]);
  }, 60_000);

  it("--fix without a terminal or --yes changes nothing (exit 7); with --yes it releases the leak and records the unknown", async () => {
    const before = await readLedger(join(dir, "state.json"));
    const refused = await reconcileLxd("--fix", ...files);
    expect(refused.code).toBe(ExitCode.NOT_CONFIRMED);
    expect(await readLedger(join(dir, "state.json"))).toEqual(before);

    const fixed = await reconcileLxd("--fix", "--yes", ...files, "--json");
    expect(fixed.code, fixed.stderr).toBe(ExitCode.CHECK_FAILED); // the mismatch is left for a person
    const ledger = await readLedger(join(dir, "state.json"));
    expect(ledger.allocations.map((a) => [a.ip, a.owner, a.reserved ?? false])).toEqual([
      [`${NET}.30`, `lab:${LAB}/${instances.app1}`, false],
      [`${NET}.32`, instances.app3, true],
      [`${NET}.33`, "somebody-else", true],
      [`${NET}.35`, "switch", true],
    ]);
    const log = JSON.parse((await cli(["ip", "log", "--since", "5m", ...files, "--json"])).stdout) as {
      command: string;
      action: string;
      address: string;
    }[];
    expect(log.filter((e) => e.command === "reconcile-fix").map((e) => [e.action, e.address])).toEqual([
      ["released", `${NET}.31`],
      ["reserved", `${NET}.32`],
    ]);

    const again = await reconcileLxd(...files, "--json");
    const report = JSON.parse(again.stdout);
    expect([report.leaked, report.unknown, report.mismatched.length, report.matched]).toEqual([[], [], 1, 2]);
  }, 60_000);
});
