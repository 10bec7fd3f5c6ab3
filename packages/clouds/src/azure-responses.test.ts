import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TokenCredential } from "@azure/core-auth";
import type { ResolvedSpec } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { failure, HTML_LOGIN, NOT_XML } from "../../core/src/adapters/test-support/bad-answers.js";
import type { SimReply, SimRequest } from "../../core/src/adapters/test-support/http-sim.js";
import { AzureAdapter } from "./azure.js";
import { azureLabOptions } from "./test-support/azure-lab-options.js";
import { startAzureSim } from "./test-support/azure-sim.js";

const TOKEN = "sim-token-shape-7f3a";
const credential: TokenCredential = {
  getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** Every place a request can carry a value built from an unchecked answer: path, query, body. */
function carriedUnchecked(requests: SimRequest[]): string[] {
  return requests
    .filter((r) =>
      [r.path, r.query.toString(), r.raw].some((part) => /undefined|NaN|<<<|<!DOCTYPE|"id":""/.test(part)),
    )
    .map((r) => `${r.method} ${r.path}`);
}

describe("Azure answers the adapter uses (NIC id, IP, provisioning and power states) are checked first", () => {
  let sim: Awaited<ReturnType<typeof startAzureSim>> | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function adapterWith(replace: (req: SimRequest, reply: SimReply) => SimReply | undefined) {
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    sim = await startAzureSim({
      token: TOKEN,
      pollsUntilDone: 1,
      intercept: (req, reply) => replace(req, reply) ?? reply,
    });
    dir = mkdtempSync(join(tmpdir(), "labgate-az-shape-"));
    writeFileSync(join(dir, "ca.pem"), sim.ca);
    const spec: ResolvedSpec = {
      name: "shape-vm",
      platform: "azure",
      os: { family: "linux" },
      cores: 2,
      memory_mib: 4096,
      image: { ref: "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest", format: "marketplace" },
      network: {},
      resolvedNetwork: { mode: "dhcp" },
      ssh_authorized_keys: ["ssh-ed25519 AAAAC3Nza lab@host"],
      platform_options: {
        azure: azureLabOptions(sim.url, join(dir, "ca.pem"), "Standard_D2s_v5"),
      },
    };
    return { adapter: new AzureAdapter({ spec, credential, pollIntervalMs: 5 }), spec, sim };
  }

  const isNicPut = (r: SimRequest) =>
    r.method === "PUT" && r.path.endsWith("/networkInterfaces/shape-vm-nic");
  const isNicGet = (r: SimRequest) =>
    r.method === "GET" && r.path.endsWith("/networkInterfaces/shape-vm-nic");
  const isVmGet = (r: SimRequest) => r.method === "GET" && r.path.endsWith("/virtualMachines/shape-vm");

  it("a proxy's HTML page as the NIC create's answer stops there: no VM is sent", async () => {
    const { adapter, spec, sim } = await adapterWith((req) => (isNicPut(req) ? HTML_LOGIN : undefined));
    const error = await failure(adapter.create(spec));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain("create the NIC");
    expect(error.hint).toMatch(/HTML page came back|not JSON|proxy/);
    expect(sim.requests.some((r) => r.path.includes("/virtualMachines/") && r.method === "PUT")).toBe(false);
    expect(carriedUnchecked(sim.requests)).toEqual([]);
    // The NIC this run made (its answer unusable) is removed by name, not left behind.
    expect([...sim.resources.keys()].filter((k) => k.includes("/networkinterfaces/"))).toEqual([]);
  });

  it("an image version list naming a version that is not digits and dots is refused before any URL is built from it", async () => {
    const { adapter, spec, sim } = await adapterWith((req, reply) =>
      req.method === "GET" && /\/versions$/i.test(req.path) && reply.status === 200
        ? {
            ...reply,
            body: (reply.body as Record<string, unknown>[]).map((v) => ({ ...v, name: "../../x" })),
          }
        : undefined,
    );
    const error = await failure(adapter.create(spec));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.message).toMatch(/virtualMachineImages\.list.*\[0\]\.name: expected an image version/);
    expect(sim.requests.filter((r) => r.method !== "GET")).toEqual([]);
    expect(sim.requests.some((r) => r.path.includes("..") || r.path.endsWith("/x"))).toBe(false);
  });

  it("a NIC answer without its resource id never becomes a VM body with an empty NIC id", async () => {
    let nicCreated = false;
    const { adapter, spec, sim } = await adapterWith((req, reply) => {
      if (isNicPut(req)) nicCreated = true;
      if (nicCreated && isNicGet(req) && reply.status === 200) {
        const { id: _id, ...rest } = reply.body as Record<string, unknown>;
        return { ...reply, body: rest };
      }
      return undefined;
    });
    const error = await failure(adapter.create(spec));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.message).toMatch(/NIC.*id/);
    expect(sim.requests.some((r) => r.path.includes("/virtualMachines/") && r.method === "PUT")).toBe(false);
    expect(carriedUnchecked(sim.requests)).toEqual([]);
  });

  it("a VM poll answering '<<<not xml', or statuses without codes, is a clear error, not 'unknown' until the timeout", async () => {
    let broken: SimReply | ((reply: SimReply) => SimReply) | undefined;
    const { adapter, spec, sim } = await adapterWith((req, reply) =>
      broken && isVmGet(req) && req.query.get("$expand") === "instanceView"
        ? typeof broken === "function"
          ? broken(reply)
          : broken
        : undefined,
    );
    const ref = await adapter.create(spec);
    for (const bad of [
      NOT_XML,
      (reply: SimReply) => {
        const body = reply.body as { properties: Record<string, unknown> };
        return {
          ...reply,
          body: { ...body, properties: { ...body.properties, instanceView: { statuses: [{ level: 3 }] } } },
        };
      },
    ]) {
      broken = bad;
      const error = await failure(adapter.waitUntilRunning(ref, { timeoutMs: 5_000, intervalMs: 5 }));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toContain("read the VM");
    }
    broken = undefined;
    expect((await adapter.waitUntilRunning(ref, { timeoutMs: 5_000, intervalMs: 5 })).state).toBe("running");
    expect(carriedUnchecked(sim.requests)).toEqual([]);
  });

  it("a NIC whose private address is not an IPv4 address is refused, not reported as the VM's address", async () => {
    const { adapter, spec } = await adapterWith((req, reply) => {
      if (!isNicGet(req) || reply.status !== 200) return undefined;
      const body = reply.body as {
        properties: { ipConfigurations: { properties: Record<string, unknown> }[] };
      };
      const configs = body.properties.ipConfigurations.map((c) => ({
        ...c,
        properties: { ...c.properties, privateIPAddress: "<b>10.1.0.4</b>" },
      }));
      return { ...reply, body: { ...body, properties: { ...body.properties, ipConfigurations: configs } } };
    });
    const error = await failure(adapter.create(spec).then((ref) => adapter.get(ref)));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.message).toMatch(/privateIPAddress/);
  });
});
