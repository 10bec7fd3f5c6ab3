import { afterEach, describe, expect, it } from "vitest";
import { EsxiAdapter } from "./esxi.js";
import { failure, HTML_LOGIN, NOT_XML } from "./test-support/bad-answers.js";
import type { SimReply, SimRequest } from "./test-support/http-sim.js";
import { specStaticNetwork } from "./test-support/static-network.js";
import { startVsphereSim } from "./test-support/vsphere-sim.js";
import { addUbuntuTemplate } from "./test-support/vsphere-template.js";
import type { ResolvedSpec } from "./types.js";

const env = { VSPHERE_USER: "administrator@vsphere.local", VSPHERE_PASSWORD: "Shape-Passw0rd!x" };

function specFor(url: string): ResolvedSpec {
  return {
    name: "shape-web",
    platform: "esxi",
    os: { family: "linux" },
    cores: 2,
    memory_mib: 2048,
    template_id: "vm-42",
    network: { cidr: "192.168.3.0/24" },
    resolvedNetwork: specStaticNetwork("192.168.3.31"),
    platform_options: { esxi: { url, resource_pool: "resgroup-9", folder: "group-v4" } },
  };
}

/** Every place a request can carry a value built from an unchecked answer: path, query, body, headers. */
function carriedUnchecked(requests: SimRequest[]): string[] {
  return requests
    .filter((r) =>
      [r.path, r.query.toString(), r.raw, JSON.stringify(r.headers)].some((part) =>
        /undefined|NaN|<<<|<!DOCTYPE|\[object Object\]/.test(part),
      ),
    )
    .map((r) => `${r.method} ${r.path}`);
}

describe("vSphere answers (REST and VI/JSON) are checked before anything is built from them", () => {
  let sim: Awaited<ReturnType<typeof startVsphereSim>> | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  async function simWith(replace: (req: SimRequest, reply: SimReply) => SimReply | undefined) {
    await sim?.close();
    sim = await startVsphereSim({
      user: env.VSPHERE_USER,
      password: env.VSPHERE_PASSWORD,
      taskPolls: 1,
      intercept: (req, reply) => replace(req, reply) ?? reply,
    });
    addUbuntuTemplate(sim.vms);
    return sim;
  }

  const adapterFor = (url: string) => new EsxiAdapter({ spec: specFor(url), env, pollIntervalMs: 5 });

  it("a proxy's HTML login page as the clone's answer stops there: nothing is patched with it", async () => {
    const s = await simWith((req) =>
      req.method === "POST" && req.query.get("action") === "clone" ? HTML_LOGIN : undefined,
    );
    const error = await failure(adapterFor(s.url).create(specFor(s.url)));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain("POST /api/vcenter/vm?action=clone");
    expect(error.message).toContain("non-JSON body (text/html");
    expect(error.hint).toMatch(/HTML page came back.*proxy or login page.*vcenter/);
    expect((error.details as { bodyStart: string }).bodyStart).toContain("Sign in to the proxy");
    expect(carriedUnchecked(s.requests)).toEqual([]);
    // The clone was the only change sent: nothing was patched, reconfigured or powered with the page.
    expect(
      s.requests
        .filter((r) => r.method !== "GET" && r.path !== "/api/session")
        .map((r) => `${r.method} ${r.path}`),
    ).toEqual(["POST /api/vcenter/vm"]);
  });

  it("a clone id of another type (a number, {value}) or a login that is not a session token is refused", async () => {
    const cases: Array<[(req: SimRequest) => boolean, SimReply, RegExp]> = [
      [
        (r) => r.query.get("action") === "clone",
        { status: 200, body: 1001 },
        /expected a VM id \(vm-N\), got number 1001/,
      ],
      [
        (r) => r.query.get("action") === "clone",
        { status: 200, body: { value: "vm-1001" } },
        /expected a VM id/,
      ],
      [
        (r) => r.path === "/api/session",
        { status: 201, body: { value: null } },
        /POST \/api\/session.*session id/,
      ],
      [(r) => r.path === "/api/session", { status: 201, text: "", headers: {} }, /an empty body/],
    ];
    for (const [match, reply, message] of cases) {
      const s = await simWith((req) => (req.method === "POST" && match(req) ? reply : undefined));
      const error = await failure(adapterFor(s.url).create(specFor(s.url)));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toMatch(message);
      expect(carriedUnchecked(s.requests)).toEqual([]);
      expect(s.requests.some((r) => r.method === "PATCH")).toBe(false);
    }
  });

  it("ReconfigVM_Task answering a task without its id never polls Task/undefined; the half-made clone is removed", async () => {
    const s = await simWith((req) =>
      req.path.endsWith("/ReconfigVM_Task")
        ? { status: 200, body: { _typeName: "ManagedObjectReference", type: "Task" } }
        : undefined,
    );
    const error = await failure(adapterFor(s.url).create(specFor(s.url)));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.message).toMatch(/ReconfigVM_Task.*expected a Task reference/);
    expect(carriedUnchecked(s.requests)).toEqual([]);
    expect(s.requests.some((r) => r.path.includes("/Task/"))).toBe(false);
    // create() cleans up after a failure with the id it checked.
    expect([...s.vms.keys()]).toEqual(["vm-42"]);
  });

  it("a task poll answering '<<<not xml' or a TaskInfo without a state ends the wait with a clear error", async () => {
    for (const reply of [NOT_XML, { status: 200, body: { _typeName: "TaskInfo", key: "task-1" } }]) {
      const s = await simWith((req) => (/\/Task\/[^/]+\/info$/.test(req.path) ? reply : undefined));
      const error = await failure(adapterFor(s.url).create(specFor(s.url)));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toMatch(/GET \/sdk\/vim25\/8\.0\.1\.0\/Task\/task-\d+\/info/);
      expect(error.message).toMatch(
        reply === NOT_XML ? /non-JSON body \(text\/plain\)/ : /TaskInfo with state/,
      );
      expect(carriedUnchecked(s.requests)).toEqual([]);
    }
  });

  it("polling a VM whose answer lost power_state (or is HTML) fails clearly instead of waiting on 'unknown'", async () => {
    let broken: SimReply | undefined;
    const s = await simWith((req) =>
      req.method === "GET" && /^\/api\/vcenter\/vm\/vm-\d+$/.test(req.path) ? broken : undefined,
    );
    const adapter = adapterFor(s.url);
    const ref = await adapter.create(specFor(s.url));
    for (const reply of [{ status: 200, body: { name: "shape-web", power: "ON" } }, HTML_LOGIN]) {
      broken = reply;
      const error = await failure(adapter.waitUntilRunning(ref, { timeoutMs: 5_000, intervalMs: 5 }));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toContain(`GET /api/vcenter/vm/${ref.id}`);
    }
    broken = undefined;
    await adapter.destroy(ref);
    expect(carriedUnchecked(s.requests)).toEqual([]);
  });

  it("a Windows clone's SATA re-attach answering a disk id of another shape never boots from it", async () => {
    const s = await simWith((req) =>
      req.method === "POST" && /\/hardware\/disk$/.test(req.path)
        ? { status: 201, body: { value: "2001" } }
        : undefined,
    );
    s.vms.set("vm-50", {
      name: "win-tmpl",
      power_state: "POWERED_OFF",
      cpu: { count: 2 },
      memory: { size_MiB: 4096 },
      template: true,
      disks: new Map([
        ["2000", { type: "SCSI", vmdk_file: "[ds1] win-tmpl/win-tmpl.vmdk", capacityBytes: 40 * 1024 ** 3 }],
      ]),
    });
    const spec = { ...specFor(s.url), os: { family: "windows" as const }, template_id: "vm-50" };
    const error = await failure(new EsxiAdapter({ spec, env, pollIntervalMs: 5 }).create(spec));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.message).toMatch(/hardware\/disk \(attach the system disk on SATA\).*expected a disk id/);
    expect(s.requests.some((r) => r.path.endsWith("/boot/device"))).toBe(false);
    expect(carriedUnchecked(s.requests)).toEqual([]);
  });

  it("the password never shows in the error, even when the proxy echoes the Basic credentials", async () => {
    const s = await simWith((req) =>
      req.path === "/api/session"
        ? {
            status: 200,
            text: `<html>${req.headers.authorization}</html>`,
            headers: { "content-type": "text/html" },
          }
        : undefined,
    );
    const error = await failure(adapterFor(s.url).create(specFor(s.url)));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    const shown = JSON.stringify({ m: error.message, d: error.details, h: error.hint });
    expect(shown).not.toContain(env.VSPHERE_PASSWORD);
    expect(shown).not.toContain(
      Buffer.from(`${env.VSPHERE_USER}:${env.VSPHERE_PASSWORD}`).toString("base64"),
    );
  });
});
