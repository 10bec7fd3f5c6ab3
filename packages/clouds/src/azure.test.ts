import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TokenCredential } from "@azure/core-auth";
import { type DeploySpec, resolveDeployNetwork } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { AzureAdapter } from "./azure.js";
import { azureLabOptions, LAB_SUBNET } from "./test-support/azure-lab-options.js";
import { startAzureSim } from "./test-support/azure-sim.js";

const credentialFor = (token: string): TokenCredential => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

describe("AzureAdapter with the ARM SDKs pointed at a loopback ARM simulator", () => {
  it("creates NIC and VM through LROs (DHCP), reads the power state, deallocates and deletes", async () => {
    const sim = await startAzureSim({ token: "sim-token-123", pollsUntilDone: 1 });
    const dir = mkdtempSync(join(tmpdir(), "labgate-az-"));
    try {
      writeFileSync(join(dir, "ca.pem"), sim.ca);
      const spec: DeploySpec = {
        name: "web2",
        os: { family: "linux" },
        cores: 2,
        memory_mib: 8192,
        disk_gb: 64,
        image: { ref: "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest", format: "marketplace" },
        network: {},
        ssh_authorized_keys: ["ssh-ed25519 AAAAC3Nza lab@host"],
        platform_options: {
          azure: azureLabOptions(sim.url, join(dir, "ca.pem"), "Standard_D2s_v5"),
        },
      };
      const adapter = new AzureAdapter({
        spec,
        credential: credentialFor("sim-token-123"),
        pollIntervalMs: 5,
      });
      expect(adapter.validate(spec)).toEqual([]);
      const { spec: resolved } = await resolveDeployNetwork(spec, "azure", undefined);
      const ref = await adapter.create(resolved);
      expect(ref).toEqual({
        platform: "azure",
        id: "web2",
        name: "web2",
        location: {
          resourceGroup: "lab-rg",
          nic: "web2-nic",
          intent: expect.stringMatching(/^[0-9a-f-]{36}$/),
        },
      });
      const nicPut = sim.requests.find(
        (r) => r.method === "PUT" && r.path.endsWith("/networkInterfaces/web2-nic"),
      );
      expect(nicPut?.json).toMatchObject({
        location: "westeurope",
        properties: {
          ipConfigurations: [
            {
              name: "ipconfig1",
              properties: { subnet: { id: LAB_SUBNET }, privateIPAllocationMethod: "Dynamic" },
            },
          ],
        },
      });
      const vmPut = sim.requests.find((r) => r.method === "PUT" && r.path.endsWith("/virtualMachines/web2"));
      expect(vmPut?.json).toMatchObject({
        properties: {
          hardwareProfile: { vmSize: "Standard_D2s_v5" },
          storageProfile: {
            imageReference: { publisher: "Canonical", sku: "22_04-lts-gen2" },
            osDisk: { diskSizeGB: 64, createOption: "FromImage" },
          },
          osProfile: { linuxConfiguration: { disablePasswordAuthentication: true } },
        },
      });
      // The SDK polled the Azure-AsyncOperation URL before returning.
      expect(sim.requests.filter((r) => r.path.includes("/operations/")).length).toBeGreaterThanOrEqual(4);
      const info = await adapter.waitUntilRunning(ref, { timeoutMs: 5000, intervalMs: 5 });
      expect(info).toMatchObject({
        state: "running",
        rawState: "PowerState/running",
        addresses: ["10.1.0.4"],
      });
      await adapter.stop(ref);
      expect((await adapter.get(ref))?.state).toBe("stopped");
      await adapter.destroy(ref);
      expect(await adapter.get(ref)).toBeUndefined();
      expect(sim.resources.size).toBe(0);
      await adapter.destroy(ref); // gone: no error
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("asks for a Static NIC address only when static is set, and maps auth failures", async () => {
    const sim = await startAzureSim({ token: "good" });
    const dir = mkdtempSync(join(tmpdir(), "labgate-az-"));
    try {
      writeFileSync(join(dir, "ca.pem"), sim.ca);
      const options = azureLabOptions(sim.url, join(dir, "ca.pem"), "Standard_B2s");
      const spec: DeploySpec = {
        name: "db1",
        os: { family: "linux" },
        cores: 2,
        memory_mib: 4096,
        image: { ref: "Canonical:ubuntu-24_04-lts:server:latest" },
        network: { ip: "10.1.0.50", static: true },
        ssh_authorized_keys: ["ssh-ed25519 AAAA x"],
        platform_options: { azure: options },
      };
      const { spec: resolved } = await resolveDeployNetwork(spec, "azure", undefined);
      const body = new AzureAdapter({ spec }).nicBody(resolved);
      expect(body.ipConfigurations?.[0]).toMatchObject({
        privateIPAllocationMethod: "Static",
        privateIPAddress: "10.1.0.50",
      });
      const bad = new AzureAdapter({ spec, credential: credentialFor("bad"), pollIntervalMs: 5 });
      await expect(bad.create(resolved)).rejects.toMatchObject({ code: "PLATFORM_AUTH_FAILED", status: 401 });
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("AzureAdapter as ARM behaves: failed provisioning and marketplace plans", () => {
  const setup = async (simOptions: Omit<Parameters<typeof startAzureSim>[0], "token">, image: string) => {
    const sim = await startAzureSim({ token: "tok", ...simOptions });
    const dir = mkdtempSync(join(tmpdir(), "labgate-az-"));
    writeFileSync(join(dir, "ca.pem"), sim.ca);
    const spec: DeploySpec = {
      name: "web3",
      os: { family: "linux" },
      cores: 2,
      memory_mib: 4096,
      image: { ref: image, format: "marketplace" },
      network: {},
      ssh_authorized_keys: ["ssh-ed25519 AAAAC3Nza lab@host"],
      platform_options: {
        azure: azureLabOptions(sim.url, join(dir, "ca.pem"), "Standard_B2s"),
      },
    };
    const adapter = new AzureAdapter({ spec, credential: credentialFor("tok"), pollIntervalMs: 5 });
    const { spec: resolved } = await resolveDeployNetwork(spec, "azure", undefined);
    const close = async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { sim, adapter, resolved, close };
  };
  type Lab = Omit<Awaited<ReturnType<typeof setup>>, "close">;
  /** create is refused as `expected`, and nothing it made on the way is left in the resource group. */
  const createRefused = async ({ sim, adapter, resolved }: Lab, expected: Record<string, unknown>) => {
    const error = await adapter.create(resolved).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error); // refused: a create that resolves fails here
    expect(error).toMatchObject(expected);
    expect(sim.resources.size).toBe(0);
    return error;
  };
  /** `body` on a fresh simulator and adapter (setup), closed afterwards whatever the body did. */
  const withLab = async (
    simOptions: Parameters<typeof setup>[0],
    image: string,
    body: (lab: Lab) => Promise<void>,
  ) => {
    const { close, ...lab } = await setup(simOptions, image);
    try {
      await body(lab);
    } finally {
      await close();
    }
  };

  it("reads ProvisioningState/failed/<Code> as an error and fails the wait at once with Azure's code", async () => {
    await withLab(
      {
        failProvisioning: {
          web3: {
            code: "OSProvisioningTimedOut",
            message: "OS Provisioning for VM 'web3' did not finish in the allotted time.",
          },
        },
      },
      "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
      async ({ sim, adapter, resolved }) => {
        // The Failed VM and the NIC this run made are removed again.
        await createRefused(
          { sim, adapter, resolved },
          { code: "PLATFORM_API_ERROR", message: expect.stringContaining("OSProvisioningTimedOut") },
        );
        expect(
          sim.requests.filter((r) => r.method === "DELETE").map((r) => r.path.split("/").slice(-2).join("/")),
        ).toEqual(["virtualMachines/web3", "networkInterfaces/web3-nic"]);
        // A VM that failed while nobody waited (an interrupted deploy, resumed): Failed, and waiting would never end.
        const path =
          "/subscriptions/0000/resourceGroups/lab-rg/providers/Microsoft.Compute/virtualMachines/web3";
        sim.resources.set(path.toLowerCase(), {
          id: path,
          name: "web3",
          location: "westeurope",
          properties: { provisioningState: "Failed" },
        });
        const ref = {
          platform: "azure" as const,
          id: "web3",
          name: "web3",
          location: { resourceGroup: "lab-rg", nic: "web3-nic" },
        };
        expect(await adapter.get(ref)).toMatchObject({
          state: "error",
          rawState: expect.stringContaining("ProvisioningState/failed/OSProvisioningTimedOut"),
        });
        await expect(adapter.waitUntilRunning(ref, { timeoutMs: 3000, intervalMs: 5 })).rejects.toMatchObject(
          {
            code: "PLATFORM_WAIT_FAILED",
            message: expect.stringMatching(/failed\/OSProvisioningTimedOut: OS Provisioning for VM 'web3'/),
          },
        );
      },
    );
  });

  it("sends the image's purchase plan for marketplace images that carry one; unaccepted terms get the accept command", async () => {
    const urn = "fortinet:fortinet_fortigate-vm_v5:fortinet_fg-vm_payg_2023:latest";
    await withLab({}, urn, async (refused) => {
      // The NIC made for the refused VM is gone again.
      const error = await createRefused(refused, {
        message: expect.stringContaining("ResourcePurchaseValidationFailed"),
      });
      expect((error as { hint: string }).hint).toBe(
        `Accept the image's terms once for this subscription: az vm image terms accept --urn ${urn} (plan fortinet_fg-vm_payg_2023 of fortinet/fortinet_fortigate-vm_v5).`,
      );
    });
    await withLab(
      { acceptedTerms: ["fortinet:fortinet_fortigate-vm_v5:fortinet_fg-vm_payg_2023"] },
      urn,
      async ({ sim, adapter, resolved }) => {
        expect(adapter.plan(resolved).calls.map((c) => c.action)).toEqual([
          "virtualMachineImages.list",
          "virtualMachineImages.get",
          "virtualMachines.get",
          "networkInterfaces.get",
          "networkInterfaces.beginCreateOrUpdate",
          "virtualMachines.beginCreateOrUpdate",
          "virtualMachines.get",
        ]);
        await adapter.create(resolved);
        const reads = sim.requests.filter((r) => r.path.includes("/artifacttypes/vmimage/"));
        expect(reads.map((r) => r.path.split("/skus/")[1])).toEqual([
          "fortinet_fg-vm_payg_2023/versions",
          "fortinet_fg-vm_payg_2023/versions/7.4.4",
        ]);
        const vmPut = sim.requests.find(
          (r) => r.method === "PUT" && r.path.endsWith("/virtualMachines/web3"),
        );
        expect(vmPut?.json).toMatchObject({
          plan: {
            name: "fortinet_fg-vm_payg_2023",
            publisher: "fortinet",
            product: "fortinet_fortigate-vm_v5",
          },
        });
        expect(
          (
            await adapter.waitUntilRunning(
              {
                platform: "azure",
                id: "web3",
                name: "web3",
                location: { resourceGroup: "lab-rg", nic: "web3-nic" },
              },
              { timeoutMs: 5000, intervalMs: 5 },
            )
          ).state,
        ).toBe("running");
      },
    );
  });

  it("refuses an image Azure does not have before creating anything, and sends no plan for plan-less images", async () => {
    await withLab(
      {},
      "Canonical:0001-com-ubuntu-server-jammy:20_04-lts:latest",
      async ({ sim, adapter, resolved }) => {
        await createRefused(
          { sim, adapter, resolved },
          {
            code: "PLATFORM_NOT_FOUND",
            hint: expect.stringContaining("az vm image list --location westeurope --publisher Canonical"),
          },
        );
        await adapter.create({
          ...resolved,
          image: { ref: "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:22.04.202409270" },
        });
        const vmPut = sim.requests.find(
          (r) => r.method === "PUT" && r.path.endsWith("/virtualMachines/web3"),
        );
        expect(vmPut?.json).not.toHaveProperty("plan");
      },
    );
  });
});
