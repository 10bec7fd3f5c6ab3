import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startProxmoxSim } from "../../../core/src/adapters/test-support/proxmox-sim.js";
import { seedNetwork } from "../../../core/src/ip-pool/test-support/seed-network.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { proxmoxVmSpec, useProxmoxDeployEnv } from "../test-support/proxmox-deploy-env.js";

const TOKEN_ID = "labgate@pve!rules";
const SECRET = "a41f0c2e-rules-test-secret-77d1";
const POOLS = { networks: [seedNetwork()] };

/** `deploy check` and `deploy plan` refuse every address `deploy apply` refuses, with the same code. */
describe("deploy check/plan run apply's address rules", () => {
  let dir: string;
  let sim: Awaited<ReturnType<typeof startProxmoxSim>>;
  const saved = { ...process.env };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-deploy-addr-"));
    sim = await startProxmoxSim({ tokenId: TOKEN_ID, secret: SECRET, taskPolls: 0 });
    sim.addTemplate(9000, { config: { scsi0: "local-lvm:base-9000-disk-0,size=3G", boot: "order=scsi0" } });
    await useProxmoxDeployEnv(dir, POOLS, { id: TOKEN_ID, secret: SECRET });
  });
  afterEach(async () => {
    process.env = { ...saved };
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function spec(name: string, ip: string): Promise<string> {
    const path = join(dir, `${name}.json`);
    const vm = { name, cores: 1, memory_mib: 1024 };
    await writeFile(path, JSON.stringify(proxmoxVmSpec(sim.url, vm, { cidr: "192.168.3.0/24", ip })));
    return path;
  }

  it.each([
    ["the gateway", "192.168.3.1", "ADDRESS_IS_GATEWAY"],
    ["the network address", "192.168.3.0", "ADDRESS_NOT_USABLE"],
    ["the broadcast address", "192.168.3.255", "ADDRESS_NOT_USABLE"],
  ])(
    "%s: check exits 2 with the finding, plan and apply refuse with the same code",
    async (_what, ip, code) => {
      const path = await spec("vm1", ip);
      const check = await cli(["deploy", "check", path, "--json"]);
      expect(check.code).toBe(ExitCode.INVALID_INPUT);
      expect(JSON.parse(check.stdout)).toMatchObject({
        ok: false,
        findings: expect.arrayContaining([
          expect.objectContaining({ code, severity: "error", field: "network.ip" }),
        ]),
      });
      const plan = await cli(["deploy", "plan", path, "--state-dir", join(dir, "state")]);
      expect(plan.code).toBe(ExitCode.INVALID_INPUT);
      expect(plan.stderr).toContain(code);
      const apply = await cli(["deploy", "apply", path, "--yes", "--state-dir", join(dir, "state")]);
      expect(apply.code).toBe(ExitCode.INVALID_INPUT);
      expect(apply.stderr).toContain(code);
      expect(sim.requests).toHaveLength(0);
    },
  );

  it("an address another deployment holds in the ledger: check and plan refuse it, the ledger is untouched", async () => {
    const first = await spec("vm1", "192.168.3.50");
    const applied = await cli(["deploy", "apply", first, "--yes", "--state-dir", join(dir, "state")]);
    expect(applied.code, applied.stderr).toBe(0);
    const ledgerBefore = await readFile(join(dir, "ip_pools.state.json"), "utf8");

    const second = await spec("vm2", "192.168.3.50");
    const check = await cli(["deploy", "check", second, "--json"]);
    expect(check.code).toBe(ExitCode.INVALID_INPUT);
    expect(check.stdout).toContain("ADDRESS_TAKEN");
    expect(check.stdout).toContain('held by \\"deploy/proxmox/vm1\\"');
    const plan = await cli(["deploy", "plan", second, "--state-dir", join(dir, "state")]);
    expect(plan.code).toBe(ExitCode.INVALID_INPUT);
    expect(plan.stderr).toContain("ADDRESS_TAKEN");
    expect(await readFile(join(dir, "ip_pools.state.json"), "utf8")).toBe(ledgerBefore);

    // The holder itself may re-check and re-plan its own address.
    expect((await cli(["deploy", "check", first])).code).toBe(0);
  });
});
