import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  clearRegisteredSecrets,
  ExitCode,
  OpenNebulaClient,
  readLedger,
  toTemplateXml,
  waitForVmDone,
} from "@labgate/core";
import { type RunningOneSimulator, startOneSimulator } from "@labgate/core/simulators";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { reconcileFixture, saveEnv } from "../test-support/ip-reconcile-fixture.js";

// Issue 16.3 against the OpenNebula simulator on loopback: VMs carry their address as a NIC IP,
// the vnet's address range holds the leases (one on hold), and one VM is DONE (its lease gone).

const NET = "10.77.5";
const fast = { intervalMs: 5, timeoutMs: 10_000 };
let one: RunningOneSimulator;
let dir: string;
let files: string[];
const restoreEnv = saveEnv(["ONE_XMLRPC", "ONE_SESSION"]);

const reconcile = (...args: string[]) =>
  cli(["ip", "reconcile", "--platform", "opennebula", "--network", `${NET}.0/24`, ...files, ...args]);

describe("ip reconcile --platform opennebula (OpenNebula simulator on loopback)", () => {
  beforeAll(async () => {
    one = await startOneSimulator({ transitionMs: 5 });
    process.env.ONE_XMLRPC = one.endpoint;
    process.env.ONE_SESSION = one.session;
    const client = new OpenNebulaClient({ endpoint: one.endpoint, session: one.session, env: {} });
    const vnet = await client.vnAllocate(
      toTemplateXml({
        NAME: "lgt-iprec-net",
        VN_MAD: "bridge",
        BRIDGE: "br0",
        GATEWAY: `${NET}.1`,
        NETWORK_MASK: "255.255.255.0",
        AR: { TYPE: "IP4", IP: `${NET}.10`, SIZE: 20 },
      }),
    );
    const template = await client.templateAllocate(toTemplateXml({ NAME: "lgt-iprec-tpl", MEMORY: 64 }));
    const vm = (name: string, ip: string) =>
      client.templateInstantiate(
        template,
        name,
        toTemplateXml({ NIC: { NETWORK: "lgt-iprec-net", IP: ip } }),
      );
    await vm("app1", `${NET}.10`);
    const gone = await vm("app5", `${NET}.12`);
    await vm("app3", `${NET}.20`);
    await vm("app4", `${NET}.21`);
    await client.vnHold(vnet, `${NET}.25`);
    await client.vmRecover(gone, 3); // deleted: DONE, its lease released
    await waitForVmDone(client, gone, fast);

    const fixture = await reconcileFixture("labgate-iprec-one-", NET, 10, 30);
    ({ dir, files } = fixture);
    const { pool } = fixture;
    await pool.allocate(`${NET}.0/24`, "lab:demo/app1"); // .10, app1's NIC: matches
    await pool.allocate(`${NET}.0/24`, "lab:demo/app2"); // .11, no VM: leaked
    await pool.allocate(`${NET}.0/24`, "lab:demo/app5"); // .12, app5 is DONE: leaked
    await pool.reserve(`${NET}.21`, "somebody-else"); // app4 uses .21: mismatched
  }, 120_000);

  afterAll(async () => {
    await one?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    restoreEnv();
    clearRegisteredSecrets();
  });

  it("finds the leaked (no VM, a DONE VM), the unknown (a VM's NIC, a held lease) and the mismatched address", async () => {
    const r = await reconcile("--json");
    expect(r.code, r.stderr).toBe(ExitCode.CHECK_FAILED);
    const report = JSON.parse(r.stdout);
    expect(report.matched).toBe(1);
    expect(report.leaked.map((a: { ip: string; owner: string }) => [a.ip, a.owner])).toEqual([
      [`${NET}.11`, "lab:demo/app2"],
      [`${NET}.12`, "lab:demo/app5"],
    ]);
    expect(report.unknown.map((u: { ip: string; holder: string }) => [u.ip, u.holder])).toEqual([
      [`${NET}.20`, "app3"],
      [`${NET}.25`, "hold:lgt-iprec-net"],
    ]);
    expect(report.unknown[0].seenIn).toMatch(/^VM \d+ NIC 0 \(lgt-iprec-net\)$/);
    expect(report.unknown[1].seenIn).toMatch(/lease on hold$/);
    expect(report.mismatched).toEqual([
      expect.objectContaining({
        allocation: expect.objectContaining({ ip: `${NET}.21`, owner: "somebody-else" }),
        used: expect.objectContaining({ holder: "app4" }),
      }),
    ]);
    // The session is never printed.
    expect(r.stdout + r.stderr).not.toContain(one.session.split(":")[1]);
  }, 60_000);

  it("--fix --yes releases the leaks and records the unknowns; the mismatch is left for a person", async () => {
    const refused = await reconcile("--fix");
    expect(refused.code).toBe(ExitCode.NOT_CONFIRMED);
    const fixed = await reconcile("--fix", "--yes", "--json");
    expect(fixed.code, fixed.stderr).toBe(ExitCode.CHECK_FAILED);
    const ledger = await readLedger(join(dir, "state.json"));
    expect(ledger.allocations.map((a) => [a.ip, a.owner, a.reserved ?? false])).toEqual([
      [`${NET}.10`, "lab:demo/app1", false],
      [`${NET}.20`, "app3", true],
      [`${NET}.21`, "somebody-else", true],
      [`${NET}.25`, "hold:lgt-iprec-net", true],
    ]);
    const again = JSON.parse((await reconcile("--json")).stdout);
    expect([again.leaked, again.unknown, again.mismatched.length, again.matched]).toEqual([[], [], 1, 3]);
  }, 60_000);

  it("--lab takes the platform, the subnet and the endpoint from an OpenNebula lab spec", async () => {
    const spec = join(dir, "lab.yaml");
    await writeFile(
      spec,
      `name: demo\nprovider: opennebula\nnetwork:\n  cidr: ${NET}.0/24\n  dhcp: false\nproviderOptions:\n  endpoint: ${one.endpoint}\n`,
    );
    delete process.env.ONE_XMLRPC;
    try {
      const r = await cli(["ip", "reconcile", "--lab", spec, ...files, "--json"]);
      expect(r.code, r.stderr).toBe(ExitCode.CHECK_FAILED);
      const report = JSON.parse(r.stdout);
      expect(report.networks).toEqual([`${NET}.0/24`]);
      expect(report.mismatched.map((m: { used: { holder: string } }) => m.used.holder)).toEqual(["app4"]);
    } finally {
      process.env.ONE_XMLRPC = one.endpoint;
    }
  }, 60_000);

  it("names a missing endpoint as an input error", async () => {
    delete process.env.ONE_XMLRPC;
    try {
      const r = await reconcile("--json");
      expect(r.code).toBe(ExitCode.INVALID_INPUT);
      expect(r.stderr).toContain("ONE_ENDPOINT_MISSING");
    } finally {
      process.env.ONE_XMLRPC = one.endpoint;
    }
  });
});
