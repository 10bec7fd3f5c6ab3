import { rm } from "node:fs/promises";
import { join } from "node:path";
import { clearRegisteredSecrets, ExitCode, readLedger } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProxmoxSim } from "../../../core/src/adapters/test-support/proxmox-sim.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { reconcileFixture, saveEnv } from "../test-support/ip-reconcile-fixture.js";

// Issue 16.3 against the Proxmox API simulator on loopback: each VM's address is its cloud-init
// ipconfigN, running or stopped; templates and ip=dhcp NICs hold none.

const NET = "10.78.5";
const TOKEN_ID = "labgate@pve!reconcile";
const SECRET = "7d1e2c3b-0a9f-4e8d-b7c6-5a4f3e2d1c0b";
const ENV_KEYS = ["PROXMOX_URL", "PROXMOX_TOKEN_ID", "PROXMOX_TOKEN_SECRET", "PROXMOX_NODE"] as const;
const restoreEnv = saveEnv(ENV_KEYS);
let sim: Awaited<ReturnType<typeof startProxmoxSim>>;
let dir: string;
let files: string[];

const reconcile = (...args: string[]) =>
  cli(["ip", "reconcile", "--platform", "proxmox", "--network", `${NET}.0/24`, ...files, ...args]);

describe("ip reconcile --platform proxmox (Proxmox simulator on loopback)", () => {
  beforeAll(async () => {
    sim = await startProxmoxSim({ tokenId: TOKEN_ID, secret: SECRET });
    sim.addTemplate(9000, {
      name: "tmpl",
      config: { ipconfig0: `ip=${NET}.40/24,gw=${NET}.1`, cores: 1 },
    });
    const vm = (name: string, status: "running" | "stopped", config: Record<string, string | number>) => ({
      name,
      template: false,
      status,
      config: { name, cores: 1, memory: 512, ...config },
    });
    sim.vms.set(101, vm("app1", "running", { ipconfig0: `ip=${NET}.10/24,gw=${NET}.1` }));
    sim.vms.set(103, vm("app3", "stopped", { ipconfig0: "ip=dhcp", ipconfig1: `ip=${NET}.20/24` }));
    sim.vms.set(104, vm("app4", "running", { ipconfig0: `gw=${NET}.1,ip=${NET}.21/24` }));
    process.env.PROXMOX_URL = sim.url;
    process.env.PROXMOX_TOKEN_ID = TOKEN_ID;
    process.env.PROXMOX_TOKEN_SECRET = SECRET;
    delete process.env.PROXMOX_NODE;

    const fixture = await reconcileFixture("labgate-iprec-pve-", NET, 10, 30);
    ({ dir, files } = fixture);
    const { pool } = fixture;
    await pool.allocate(`${NET}.0/24`, "lab:demo/app1"); // .10, app1's ipconfig0: matches
    await pool.allocate(`${NET}.0/24`, "lab:demo/app2"); // .11, no VM: leaked
    await pool.reserve(`${NET}.21`, "somebody-else"); // app4 uses .21: mismatched
  }, 60_000);

  afterAll(async () => {
    await sim?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    restoreEnv();
    clearRegisteredSecrets();
  });

  it("finds the leaked, the unknown (a stopped VM's ipconfig1) and the mismatched address; templates hold none", async () => {
    const r = await reconcile("--node", sim.node, "--json");
    expect(r.code, r.stderr).toBe(ExitCode.CHECK_FAILED);
    const report = JSON.parse(r.stdout);
    expect(report.matched).toBe(1);
    expect(report.leaked.map((a: { ip: string; owner: string }) => [a.ip, a.owner])).toEqual([
      [`${NET}.11`, "lab:demo/app2"],
    ]);
    expect(report.unknown).toEqual([
      { ip: `${NET}.20`, holder: "app3", seenIn: `VM 103 on ${sim.node} ipconfig1`, network: `${NET}.0/24` },
    ]);
    expect(report.mismatched).toEqual([
      expect.objectContaining({
        allocation: expect.objectContaining({ ip: `${NET}.21`, owner: "somebody-else" }),
        used: expect.objectContaining({ holder: "app4" }),
      }),
    ]);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  }, 60_000);

  it("--fix --yes releases the leak and records the unknown; the mismatch is left for a person", async () => {
    process.env.PROXMOX_NODE = sim.node; // the node from the environment this time
    try {
      const fixed = await reconcile("--fix", "--yes", "--json");
      expect(fixed.code, fixed.stderr).toBe(ExitCode.CHECK_FAILED);
    } finally {
      delete process.env.PROXMOX_NODE;
    }
    const ledger = await readLedger(join(dir, "state.json"));
    expect(ledger.allocations.map((a) => [a.ip, a.owner, a.reserved ?? false])).toEqual([
      [`${NET}.10`, "lab:demo/app1", false],
      [`${NET}.20`, "app3", true],
      [`${NET}.21`, "somebody-else", true],
    ]);
    const again = JSON.parse((await reconcile("--node", sim.node, "--json")).stdout);
    expect([again.leaked, again.unknown, again.mismatched.length, again.matched]).toEqual([[], [], 1, 2]);
  }, 60_000);

  it("refuses without a node, a wrong node, a bad token and an answer that is not the API's, changing nothing", async () => {
    const before = await readLedger(join(dir, "state.json"));
    const noNode = await reconcile("--json");
    expect(noNode.code).toBe(ExitCode.PRECONDITION);
    expect(noNode.stderr).toContain("--node");
    const wrongNode = await reconcile("--node", "pve9", "--json");
    expect(wrongNode.code).toBe(ExitCode.EXTERNAL);
    expect(wrongNode.stderr).toContain("no such cluster node");
    process.env.PROXMOX_TOKEN_SECRET = "wrong";
    try {
      const badToken = await reconcile("--node", sim.node, "--json");
      expect(badToken.code).toBe(ExitCode.EXTERNAL);
      expect(badToken.stderr).toContain("PLATFORM_AUTH_FAILED");
    } finally {
      process.env.PROXMOX_TOKEN_SECRET = SECRET;
    }
    sim.vms.set(105, { name: "odd", template: false, status: "stopped", config: { name: "odd" } });
    (sim.vms.get(105) as { config: unknown }).config = { name: "odd", net0: { nested: true } };
    const badShape = await reconcile("--node", sim.node, "--json");
    sim.vms.delete(105);
    expect(badShape.code).toBe(ExitCode.EXTERNAL);
    expect(badShape.stderr).toContain("PLATFORM_RESPONSE_INVALID");
    expect(await readLedger(join(dir, "state.json"))).toEqual(before);
  }, 60_000);
});
