import { afterEach, describe, expect, it } from "vitest";
import { checkDeployment } from "../deploy-rules/check-deployment.js";
import { parseDeploySpec } from "../deploy-rules/parse-spec.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { ProxmoxAdapter } from "./proxmox.js";
import { failure, HTML_LOGIN, NOT_XML } from "./test-support/bad-answers.js";
import type { SimReply, SimRequest } from "./test-support/http-sim.js";
import { startProxmoxSim } from "./test-support/proxmox-sim.js";
import { specStaticNetwork } from "./test-support/static-network.js";
import type { ResolvedSpec } from "./types.js";

const TOKEN_ID = "labgate@pve!shape";
const SECRET = "7c1d2e3f-shape-test-secret-4a5b";
const env = { PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET };

function specFor(url: string, extra: Record<string, unknown> = {}): ResolvedSpec {
  const parsed = parseDeploySpec(
    JSON.stringify({
      name: "shape-vm",
      platform: "proxmox",
      os: { family: "linux", distro: "ubuntu" },
      cores: 2,
      memory_gib: 2,
      template_id: 9000,
      network: { cidr: "192.168.3.0/24", ip: "192.168.3.31" },
      platform_options: { proxmox: { node: "pve1", url, ...extra } },
    }),
  );
  expect(parsed.findings.filter((f) => f.severity === "error")).toEqual([]);
  return {
    ...(parsed.spec as DeploySpec),
    platform: "proxmox",
    resolvedNetwork: specStaticNetwork("192.168.3.31"),
  };
}

function create(spec: ResolvedSpec) {
  return new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 }).create(spec);
}

describe("Proxmox answers are checked before anything is built from them", () => {
  let sim: Awaited<ReturnType<typeof startProxmoxSim>> | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  async function simWith(replace: (req: SimRequest) => SimReply | undefined) {
    sim = await startProxmoxSim({
      tokenId: TOKEN_ID,
      secret: SECRET,
      taskPolls: 0,
      intercept: (req, reply) => replace(req) ?? reply,
    });
    sim.addTemplate(9000, { config: { scsi0: "local-lvm:base-9000-disk-0,size=3G", boot: "order=scsi0" } });
    return sim;
  }

  it("a non-JSON 200 from nextid stops before the clone: no newid=undefined is ever sent", async () => {
    const s = await simWith((req) => (req.path.endsWith("/cluster/nextid") ? NOT_XML : undefined));
    const error = await failure(create(specFor(s.url)));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain("GET /cluster/nextid");
    expect(error.message).toContain("non-JSON body (text/plain)");
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /api2/json/cluster/nextid"]);
  });

  it("a proxy's HTML login page after the clone is named as such; no task 'undefined' is polled", async () => {
    const s = await simWith((req) => (req.path.endsWith("/clone") ? HTML_LOGIN : undefined));
    const error = await failure(create(specFor(s.url)));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.hint).toMatch(/HTML page came back.*proxy or login page/);
    expect((error.details as { bodyStart: string }).bodyStart).toContain("Sign in to the proxy");
    expect(s.requests.some((r) => r.path.includes("undefined"))).toBe(false);
    expect(s.requests.some((r) => r.path.includes("/tasks/"))).toBe(false);
  });

  it("JSON with missing fields (no envelope, a task without status, a config that is a list) is refused", async () => {
    const cases: Array<[RegExp, SimReply, RegExp]> = [
      [/\/cluster\/nextid$/, { status: 200, body: { vmid: 100 } }, /without the "data" envelope/],
      [/\/cluster\/nextid$/, { status: 200, body: { data: "abc" } }, /expected a VMID/],
      [/\/tasks\/.*\/status$/, { status: 200, body: { data: { exitstatus: "OK" } } }, /task status object/],
      [/\/qemu\/100\/config$/, { status: 200, body: { data: ["scsi0"] } }, /VM configuration object/],
    ];
    for (const [path, reply, message] of cases) {
      const s = await simWith((req) => (req.method === "GET" && path.test(req.path) ? reply : undefined));
      const error = await failure(create(specFor(s.url)));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toMatch(message);
      expect(s.requests.some((r) => r.path.includes("undefined") || r.raw.includes("undefined"))).toBe(false);
      await s.close();
      sim = undefined;
    }
  });

  it("the secret never shows in the error, even when the proxy echoes it back", async () => {
    const s = await simWith((req) =>
      req.path.endsWith("/cluster/nextid")
        ? {
            status: 200,
            text: `<html>${req.headers.authorization}</html>`,
            headers: { "content-type": "text/html" },
          }
        : undefined,
    );
    const error = await failure(create(specFor(s.url)));
    expect(JSON.stringify({ m: error.message, d: error.details, h: error.hint })).not.toContain(SECRET);
  });

  it("warns that an http:// URL sends the token in clear; https does not warn", async () => {
    const plain = specFor("http://127.0.0.1:8006");
    const adapter = new ProxmoxAdapter({ spec: plain, env });
    const warning = checkDeployment(plain, adapter).find((f) => f.code === "PROXMOX_URL_CLEARTEXT");
    expect(warning).toMatchObject({ severity: "warning" });
    expect(warning?.message).toContain("travels in clear");
    const tls = specFor("https://127.0.0.1:8006");
    expect(
      checkDeployment(tls, new ProxmoxAdapter({ spec: tls, env })).some(
        (f) => f.code === "PROXMOX_URL_CLEARTEXT",
      ),
    ).toBe(false);
    const fromEnv = new ProxmoxAdapter({ env: { ...env, PROXMOX_URL: "http://pve1:8006" } });
    const noUrl = { ...plain, platform_options: { proxmox: { node: "pve1" } } } as DeploySpec;
    expect(fromEnv.validate(noUrl).some((f) => f.code === "PROXMOX_URL_CLEARTEXT")).toBe(true);
  });

  it("finds VMs by name (templates excluded) through GET /nodes/{node}/qemu", async () => {
    const s = await simWith(() => undefined);
    const spec = specFor(s.url);
    const adapter = new ProxmoxAdapter({ spec, env, pollIntervalMs: 5 });
    expect(await adapter.findByName("shape-vm")).toEqual([]);
    const ref = await adapter.create(spec);
    expect(await adapter.findByName("shape-vm")).toEqual([ref]);
    expect(await adapter.findByName(`tmpl-9000`)).toEqual([]);
  });
});
