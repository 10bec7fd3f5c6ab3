import { afterEach, describe, expect, it } from "vitest";
import { OpenNebulaError } from "../../errors.js";
import { ExitCode } from "../../exit-codes.js";
import { clearRegisteredSecrets } from "../../util/redact.js";
import { describeCall, OpenNebulaClient } from "./client.js";
import { resolveSession } from "./session.js";
import { OneSimulator } from "./sim/one-simulator.js";
import { toTemplateXml } from "./template-xml.js";
import {
  waitForHostMonitored,
  waitForImageReady,
  waitForVmDone,
  waitForVmRunning,
  waitForVnetReady,
} from "./wait.js";
import { decodeMethodCall, decodeMethodResponse, encodeMethodCall, encodeMethodResponse } from "./xmlrpc.js";

const SESSION = "oneadmin:s3cr3t-Pa55";
let sim: OneSimulator | undefined;

async function start(options: ConstructorParameters<typeof OneSimulator>[0] = {}) {
  sim = new OneSimulator({ users: { oneadmin: "s3cr3t-Pa55" }, ...options });
  const endpoint = await sim.start();
  return { sim, endpoint, client: new OpenNebulaClient({ endpoint, session: SESSION, env: {} }) };
}

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  clearRegisteredSecrets();
});

const fast = { intervalMs: 5, timeoutMs: 5_000 };
/** A URL as the Linux Containers marketplace builds it (lxd_downloader.sh accepts it). */
const LXD_URL =
  "lxd://https://images.linuxcontainers.org/images/ubuntu/jammy/amd64/default/20261201_07:42/rootfs.tar.xz?size=1024&filesystem=ext4&format=raw";

describe("XML-RPC codec", () => {
  it("round-trips strings with markup, ints, booleans, arrays and structs", () => {
    const xml = encodeMethodCall("one.vm.action", [
      "u:p",
      "terminate-hard",
      7,
      true,
      ["<a&b>", -1],
      { k: "v" },
    ]);
    expect(xml).toContain("<int>7</int>");
    expect(xml).toContain("&lt;a&amp;b&gt;");
    expect(decodeMethodCall(xml)).toEqual({
      method: "one.vm.action",
      params: ["u:p", "terminate-hard", 7, true, ["<a&b>", -1], { k: "v" }],
    });
    expect(decodeMethodResponse(encodeMethodResponse([true, "<VM/>", 0]))).toEqual({
      ok: true,
      value: [true, "<VM/>", 0],
    });
  });

  it("reads untyped values as strings, i4 as int, and faults", () => {
    const body = `<?xml version="1.0"?>
      <methodResponse><params><param><value><array><data>
        <value><boolean>0</boolean></value><value>plain text</value><value><i4>256</i4></value>
      </data></array></value></param></params></methodResponse>`;
    expect(decodeMethodResponse(body)).toEqual({ ok: true, value: [false, "plain text", 256] });
    const fault = `<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-506</int></value></member><member><name>faultString</name><value><string>no such method</string></value></member></struct></value></fault></methodResponse>`;
    expect(decodeMethodResponse(fault)).toEqual({
      ok: false,
      fault: { faultCode: -506, faultString: "no such method" },
    });
  });

  it("rejects malformed XML", () => {
    expect(() => decodeMethodResponse("<methodResponse><params>")).toThrow();
  });
});

describe("session", () => {
  it("reads ONE_SESSION and refuses a session without a colon", () => {
    expect(resolveSession({ env: { ONE_SESSION: SESSION } }).source).toBe("ONE_SESSION");
    expect(() => resolveSession({ env: { ONE_SESSION: "justatoken" } })).toThrow(/user:password/);
    try {
      resolveSession({ env: { HOME: "/nonexistent-home" } });
      expect.unreachable();
    } catch (error) {
      expect((error as OpenNebulaError).code).toBe("ONE_SESSION_MISSING");
      expect((error as OpenNebulaError).exitCode).toBe(ExitCode.INVALID_INPUT);
    }
  });
});

describe("OpenNebulaClient against the simulator", () => {
  it("reads the version and the host pool", async () => {
    const { client } = await start({ oneVersion: "6.10.0", hosts: [{ name: "lxc-host" }] });
    expect(await client.version()).toBe("6.10.0");
    const hosts = await client.hostPool();
    expect(hosts).toMatchObject([{ name: "lxc-host", vmMad: "lxc", stateName: "MONITORED" }]);
  });

  it("maps AUTHENTICATION to ONE_AUTH_FAILED without leaking the session", async () => {
    const { endpoint } = await start();
    const bad = new OpenNebulaClient({ endpoint, session: "oneadmin:wrong-password-1", env: {} });
    const error = await bad.version().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenNebulaError);
    const e = error as OpenNebulaError;
    expect(e.code).toBe("ONE_AUTH_FAILED");
    expect(e.oneErrorCode).toBe(0x0100);
    expect(e.exitCode).toBe(ExitCode.PRECONDITION);
    const printed = `${e.message} ${e.hint} ${JSON.stringify(e)} ${JSON.stringify(bad)}`;
    expect(printed).not.toContain("wrong-password-1");
    expect(describeCall("one.vm.info", [3])).toBe("one.vm.info(<session>, 3)");
  });

  it("reports an endpoint nobody listens on as ONE_UNREACHABLE (exit 4)", async () => {
    const { sim } = await start();
    const endpoint = await sim.start();
    await sim.stop();
    const client = new OpenNebulaClient({ endpoint, session: SESSION, env: {}, timeoutMs: 2_000 });
    const e = (await client.version().catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.code).toBe("ONE_UNREACHABLE");
    expect(e.exitCode).toBe(ExitCode.PRECONDITION);
    expect(e.message).not.toContain("s3cr3t");
  });

  it("maps NO_EXISTS, ALLOCATE and unknown methods", async () => {
    const { client } = await start();
    expect(((await client.vmInfo(42).catch((e: unknown) => e)) as OpenNebulaError).code).toBe(
      "ONE_NOT_FOUND",
    );
    const tpl = toTemplateXml({
      NAME: "net",
      VN_MAD: "bridge",
      BRIDGE: "br0",
      AR: [{ TYPE: "IP4", IP: "10.9.0.10", SIZE: 2 }],
    });
    await client.vnAllocate(tpl);
    const dup = (await client.vnAllocate(tpl).catch((e: unknown) => e)) as OpenNebulaError;
    expect(dup.code).toBe("ONE_ALLOCATE_FAILED");
    expect(dup.message).toMatch(/NAME is already taken/);
    const fault = (await client.call("one.nope.info").catch((e: unknown) => e)) as OpenNebulaError;
    expect(fault.code).toBe("ONE_PROTOCOL_ERROR");
  });

  it("drives a VM from PENDING to RUNNING with its leased address, then terminates it", async () => {
    const { client, sim } = await start({ hosts: [{ name: "lxd-host" }] });
    const vnetId = await client.vnAllocate(
      toTemplateXml({
        NAME: "vnet-lxd",
        VN_MAD: "bridge",
        BRIDGE: "lxdbr0",
        AR: [
          { TYPE: "IP4", IP: "10.20.0.30", SIZE: 1 },
          { TYPE: "IP4", IP: "10.20.0.40", SIZE: 1 },
        ],
      }),
    );
    const imageId = await client.imageAllocate(toTemplateXml({ NAME: "img", PATH: LXD_URL, TYPE: "OS" }), 1);
    expect((await waitForImageReady(client, imageId, fast)).stateName).toBe("READY");
    const tid = await client.templateAllocate(
      toTemplateXml({
        NAME: "tpl",
        DISK: { IMAGE: "img" },
        NIC: { NETWORK: "vnet-lxd" },
        CONTEXT: { NETWORK: "YES" },
      }),
    );
    const seen: string[] = [];
    const vmId = await client.templateInstantiate(
      tid,
      "app1",
      toTemplateXml({ NIC: { NETWORK: "vnet-lxd", IP: "10.20.0.40" } }),
    );
    const vm = await waitForVmRunning(client, vmId, { ...fast, onProgress: (s) => seen.push(s) });
    expect(seen).toEqual(["PENDING", "ACTIVE/PROLOG", "ACTIVE/BOOT"]);
    expect(vm).toMatchObject({ name: "app1", label: "ACTIVE/RUNNING", hostname: "lxd-host" });
    expect(vm.nics[0]).toMatchObject({ ip: "10.20.0.40", network: "vnet-lxd", networkId: vnetId });
    expect((await client.vnInfo(vnetId)).addressRanges[1]!.leases).toEqual([
      { ip: "10.20.0.40", mac: "02:00:0a:14:00:28", vm: vmId },
    ]);
    await client.vmAction("terminate-hard", vmId);
    // Asynchronous, as in oned: the VM is still there, shutting down, and keeps its lease until DONE.
    expect((await client.findVm("app1"))?.label).toBe("ACTIVE/SHUTDOWN");
    expect((await waitForVmDone(client, vmId, fast))?.stateName).toBe("DONE");
    expect(await client.findVm("app1")).toBeUndefined();
    expect(sim.count("one.vm.action")).toBe(1);
  });

  it("holds a lease so a VM cannot take it, and releases it", async () => {
    const { client } = await start({ hosts: [{ name: "h" }] });
    const vnet = await client.vnAllocate(
      toTemplateXml({ NAME: "n", VN_MAD: "bridge", AR: { TYPE: "IP4", IP: "10.1.0.5", SIZE: 2 } }),
    );
    const tid = await client.templateAllocate(toTemplateXml({ NAME: "t", NIC: { NETWORK: "n" } }));
    await client.vnHold(vnet, "10.1.0.5");
    expect((await client.vnInfo(vnet)).addressRanges[0]!.leases).toEqual([
      { ip: "10.1.0.5", mac: "02:00:0a:01:00:05", vm: -1 },
    ]);
    const taken = (await client
      .templateInstantiate(tid, "x", toTemplateXml({ NIC: { NETWORK: "n", IP: "10.1.0.5" } }))
      .catch((e: unknown) => e)) as OpenNebulaError;
    expect(taken.code).toBe("ONE_ALLOCATE_FAILED");
    await client.vnRelease(vnet, "10.1.0.5");
    const id = await client.templateInstantiate(
      tid,
      "x",
      toTemplateXml({ NIC: { NETWORK: "n", IP: "10.1.0.5" } }),
    );
    expect((await client.vmInfo(id)).nics[0]!.ip).toBe("10.1.0.5");
  });

  it("reports BOOT_FAILURE as ONE_VM_FAILED with OpenNebula's error text", async () => {
    const { client } = await start({ hosts: [{ name: "h" }], bootFailures: ["bad"] });
    await client.vnAllocate(
      toTemplateXml({ NAME: "n", VN_MAD: "bridge", AR: { TYPE: "IP4", IP: "10.1.0.5", SIZE: 4 } }),
    );
    const tid = await client.templateAllocate(toTemplateXml({ NAME: "t", NIC: { NETWORK: "n" } }));
    const id = await client.templateInstantiate(tid, "bad");
    const e = (await waitForVmRunning(client, id, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.code).toBe("ONE_VM_FAILED");
    expect(e.message).toMatch(/ACTIVE\/BOOT_FAILURE: Error executing deploy/);
  });

  it("maps PROLOG_FAILURE, an image in ERROR and a virtual network in ERROR to their errors", async () => {
    const { client } = await start({
      hosts: [{ name: "h" }],
      prologFailures: ["stuck"],
      failingImages: ["broken-img"],
      failingVnets: ["broken-net"],
    });
    await client.vnAllocate(
      toTemplateXml({ NAME: "n", VN_MAD: "bridge", AR: { TYPE: "IP4", IP: "10.1.0.5", SIZE: 2 } }),
    );
    const tid = await client.templateAllocate(toTemplateXml({ NAME: "t", NIC: { NETWORK: "n" } }));
    const vm = await client.templateInstantiate(tid, "stuck");
    const prolog = (await waitForVmRunning(client, vm, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(prolog.code).toBe("ONE_VM_FAILED");
    expect(prolog.message).toMatch(/ACTIVE\/PROLOG_FAILURE: Error executing image transfer script/);
    expect(prolog.details).toMatchObject({ vmId: vm, state: "ACTIVE/PROLOG_FAILURE" });
    const img = await client.imageAllocate(
      toTemplateXml({ NAME: "broken-img", PATH: "lxd://nowhere", TYPE: "OS" }),
      1,
    );
    const image = (await waitForImageReady(client, img, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(image.code).toBe("ONE_IMAGE_ERROR");
    expect(image.message).toMatch(/broken-img .* is in ERROR: Error copying image/);
    const net = await client.vnAllocate(
      toTemplateXml({ NAME: "broken-net", VN_MAD: "bridge", AR: { TYPE: "IP4", IP: "10.2.0.5", SIZE: 1 } }),
    );
    const vnet = (await waitForVnetReady(client, net, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(vnet.code).toBe("ONE_VNET_ERROR");
    expect(vnet.message).toMatch(/broken-net \(ID 1\) is ERROR/);
  });

  it("waits out a host's ERROR within the grace period (oned re-monitors it) and reports one that stays there", async () => {
    const { client } = await start({
      hosts: [
        { name: "fixed", state: "ERROR", recoverAfter: 3 },
        { name: "broken", fails: true },
      ],
    });
    const started = Date.now();
    const broken = (await waitForHostMonitored(client, 1, { ...fast, errorGraceMs: 150 }).catch(
      (x: unknown) => x,
    )) as OpenNebulaError;
    expect(broken.code).toBe("ONE_HOST_ERROR");
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    // Without a grace period the first ERROR ends the wait.
    const atOnce = (await waitForHostMonitored(client, 0, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(atOnce.code).toBe("ONE_HOST_ERROR");
    const seen: string[] = [];
    const host = await waitForHostMonitored(client, 0, {
      ...fast,
      errorGraceMs: 2_000,
      onProgress: (s) => seen.push(s),
    });
    expect(host.stateName).toBe("MONITORED");
    expect(seen).toEqual(["ERROR"]);
  });

  it("a wait past its deadline is ONE_TIMEOUT (exit TIMEOUT) naming the last state oned reported", async () => {
    const { client } = await start({ hosts: [{ name: "broken", fails: true }] });
    const seen: string[] = [];
    const late = (await waitForHostMonitored(client, 0, {
      intervalMs: 10,
      timeoutMs: 80,
      errorGraceMs: 60_000,
      onProgress: (s) => seen.push(s),
    }).catch((x: unknown) => x)) as OpenNebulaError;
    expect(late).toMatchObject({
      code: "ONE_TIMEOUT",
      exitCode: ExitCode.TIMEOUT,
      message: "Host 0 is still ERROR after 0 s.",
    });
    expect(seen).toEqual(["ERROR"]);
  });

  it("refuses to instantiate a VM whose image is missing or not READY yet, taking no lease", async () => {
    const { client, sim } = await start({ hosts: [{ name: "h" }] });
    await client.vnAllocate(
      toTemplateXml({ NAME: "n", VN_MAD: "bridge", AR: { TYPE: "IP4", IP: "10.1.0.5", SIZE: 1 } }),
    );
    const missing = await client.templateAllocate(
      toTemplateXml({ NAME: "t1", DISK: { IMAGE: "nope" }, NIC: { NETWORK: "n" } }),
    );
    const e1 = (await client.templateInstantiate(missing, "a").catch((x: unknown) => x)) as OpenNebulaError;
    expect(e1.code).toBe("ONE_NOT_FOUND");
    await client.imageAllocate(toTemplateXml({ NAME: "img", PATH: LXD_URL, TYPE: "OS" }), 1);
    const locked = await client.templateAllocate(
      toTemplateXml({ NAME: "t2", DISK: { IMAGE: "img" }, NIC: { NETWORK: "n" } }),
    );
    const e2 = (await client.templateInstantiate(locked, "b").catch((x: unknown) => x)) as OpenNebulaError;
    expect(e2.code).toBe("ONE_ALLOCATE_FAILED");
    expect(e2.message).toMatch(/state LOCKED/);
    expect(sim.vnets[0]!.ars[0]!.leases).toEqual([]);
  });

  it("reports a host that fails monitoring as ONE_HOST_ERROR; an lxd host on 6.10 is accepted, then ERROR", async () => {
    const { client } = await start({ failingHosts: ["10.0.0.5"] });
    const id = await client.hostAllocate("10.0.0.5", "lxd", "lxd");
    const e = (await waitForHostMonitored(client, id, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.code).toBe("ONE_HOST_ERROR");
    expect(e.message).toMatch(/Permission denied/);
    await sim!.stop();
    // Real oned (RequestManagerAllocate.cc HostAllocate) does not check driver names: the host fails monitoring.
    const lxc = await start({ oneVersion: "6.10.5" });
    const lxdHost = await lxc.client.hostAllocate("h2", "lxd", "lxd");
    const seen: string[] = [];
    const bad = (await waitForHostMonitored(lxc.client, lxdHost, {
      ...fast,
      onProgress: (s) => seen.push(s),
    }).catch((x: unknown) => x)) as OpenNebulaError;
    expect(bad.code).toBe("ONE_HOST_ERROR");
    expect(bad.message).toMatch(/driver lxd is not defined/);
    expect(seen).toEqual(["INIT"]);
    const ok = await lxc.client.hostAllocate("h3", "lxc", "lxc");
    expect((await waitForHostMonitored(lxc.client, ok, fast)).vmMad).toBe("lxc");
  });
});
