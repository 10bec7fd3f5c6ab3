import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { azureLabOptions } from "../../../clouds/src/test-support/azure-lab-options.js";
import { startAzureSim } from "../../../clouds/src/test-support/azure-sim.js";
import { startManagedIdentityEndpoint } from "../../../clouds/src/test-support/managed-identity-endpoint.js";
import type { SimReply, SimRequest } from "../../../core/src/adapters/test-support/http-sim.js";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import { deployKillHarness } from "../test-support/deploy-kill-harness.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";

const TOKEN = "kill-test-arm-token-7d2e";
const RG = "/subscriptions/0000/resourceGroups/lab-rg/providers";

let bin: string;
let identity: Awaited<ReturnType<typeof startManagedIdentityEndpoint>>;
beforeAll(async () => {
  bin = ensureBuiltCli();
  // One endpoint for the file: the identity library keeps the managed identity source it found per process.
  identity = await startManagedIdentityEndpoint({ token: TOKEN, header: "kill-test-identity-header" });
}, 300_000);
afterAll(() => identity.close());

/**
 * `deploy apply` on Azure as a real process (signed in through a managed identity endpoint on loopback),
 * killed while a create is in the ARM simulator: the resource exists, its answer never arrived.
 */
describe("deploy apply on azure killed with SIGKILL right after a create call", () => {
  let dir: string;
  let state: string;
  let specPath: string;
  let sim: Awaited<ReturnType<typeof startAzureSim>>;
  let holdAt: (req: SimRequest) => boolean;
  const kill = deployKillHarness<SimRequest>((req) => holdAt(req));

  beforeEach(async () => {
    ({ dir, state } = await kill.begin("labgate-deploy-kill-azure-"));
    holdAt = (req) => req.method === "PUT" && req.path.endsWith("/virtualMachines/kill-az");
    sim = await startAzureSim({
      token: TOKEN,
      pollsUntilDone: 1,
      intercept: (req, reply) => kill.hold.intercept<SimReply>(req, reply),
    });
    await writeFile(join(dir, "ca.pem"), sim.ca);
    specPath = join(dir, "vm.json");
    await writeFile(
      specPath,
      JSON.stringify({
        name: "kill-az",
        platform: "azure",
        os: { family: "linux", distro: "ubuntu" },
        cores: 2,
        memory_mib: 4096,
        image: { ref: "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest", format: "marketplace" },
        network: {},
        ssh_authorized_keys: ["ssh-ed25519 AAAAC3Nza lab@host"],
        platform_options: {
          azure: azureLabOptions(sim.url, join(dir, "ca.pem"), "Standard_D2s_v5"),
        },
      }),
    );
    // DefaultAzureCredential: no service principal or CLI login here, the managed identity answers.
    for (const key of [
      "AZURE_CLIENT_ID",
      "AZURE_TENANT_ID",
      "AZURE_CLIENT_SECRET",
      "AZURE_FEDERATED_TOKEN_FILE",
    ])
      delete process.env[key];
    Object.assign(process.env, identity.env);
  });

  afterEach(() => kill.end(() => sim.close()));

  const applyAndKill = () => kill.applyAndKill(bin, specPath);
  const vm = () => sim.resources.get(`${RG}/Microsoft.Compute/virtualMachines/kill-az`.toLowerCase());
  const nic = () => sim.resources.get(`${RG}/Microsoft.Network/networkInterfaces/kill-az-nic`.toLowerCase());
  const recordPath = () => join(state, "azure-kill-az.json");

  it("killed at the VM create: the re-run replaces VM and NIC (no duplicate), destroy removes both", async () => {
    await applyAndKill();
    const intent = JSON.parse(await readFile(recordPath(), "utf8"));
    expect(intent).toMatchObject({
      status: "creating",
      ref: { platform: "azure", id: "kill-az", name: "kill-az", location: { resourceGroup: "lab-rg" } },
    });
    const claim = intent.ref.location.intent;
    expect(claim).toMatch(/^[0-9a-f-]{36}$/);
    expect(vm()?.tags?.["labgate-intent"]).toBe(claim);
    expect(nic()?.tags?.["labgate-intent"]).toBe(claim);

    const again = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("left node kill-az on azure");
    const record = JSON.parse(await readFile(recordPath(), "utf8"));
    expect(record.status).toBeUndefined();
    expect(vm()?.tags?.["labgate-intent"]).toBe(record.ref.location.intent);
    expect(record.ref.location.intent).not.toBe(claim);
    expect(JSON.parse(again.stdout)).toMatchObject({ state: "running" });

    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(vm()).toBeUndefined();
    expect(nic()).toBeUndefined();
  }, 180_000);

  it("killed between NIC and VM: destroy alone finds the NIC the apply left and removes it", async () => {
    holdAt = (req) => req.method === "PUT" && req.path.endsWith("/networkInterfaces/kill-az-nic");
    await applyAndKill();
    expect(nic()).toBeDefined();
    expect(vm()).toBeUndefined();
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stderr).toContain("left node kill-az on azure");
    expect(nic()).toBeUndefined();
  }, 180_000);

  it("a VM of the same name without this apply's claim is refused, never taken over or deleted", async () => {
    await applyAndKill();
    const foreign = vm();
    if (foreign?.tags) foreign.tags["labgate-intent"] = "another-apply";
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stderr).toContain("nothing of it is on azure");
    expect(vm()).toBe(foreign);

    const fresh = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", state]);
    expect(fresh.code, fresh.stderr).toBe(ExitCode.PRECONDITION);
    expect(fresh.stderr).toContain("DEPLOY_NAME_TAKEN");
    expect(vm()).toBe(foreign);
    expect(vm()?.tags?.["labgate-intent"]).toBe("another-apply");
    await expect(readFile(recordPath(), "utf8")).rejects.toThrow(/ENOENT/);
  }, 180_000);
});
