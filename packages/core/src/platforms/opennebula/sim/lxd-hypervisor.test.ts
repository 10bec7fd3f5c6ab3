import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LxdClient } from "../../lxd/lxd-client.js";
import { findLxdSocket, lxdSocketCandidates } from "../../lxd/socket-path.js";
import type { SimOneVersion, SimVm } from "./hypervisor.js";
import {
  LxdSimHypervisor,
  readGuestContextStatus,
  SIM_DEFAULT_IMAGE,
  SIM_OWNER_KEY,
} from "./lxd-hypervisor.js";
import { freeTestSubnet } from "./test-support/free-subnet.js";

// Gated like the other LXD end-to-end suites: LABGATE_REQUIRE_LXD=1 makes a missing LXD a failure.
const required = process.env.LABGATE_REQUIRE_LXD === "1";
const enabled = required || process.env.LABGATE_LXD_E2E !== "0";
const socket = findLxdSocket(lxdSocketCandidates());
const client = socket ? new LxdClient({ socketPath: socket }) : undefined;
const usable =
  enabled &&
  client !== undefined &&
  (await client.resolveImageAlias(SIM_DEFAULT_IMAGE).catch(() => undefined));

if (required && !usable) {
  describe("LXD-backed OpenNebula hypervisor", () => {
    it("needs LXD and the labgate/debian-bookworm image (LABGATE_REQUIRE_LXD=1)", () => {
      throw new Error(`LXD or ${SIM_DEFAULT_IMAGE} is not usable (run scripts/ci/setup-lxd.sh)`);
    });
  });
}

// The app the start script and the user data set up: a static file server on the VM's address.
const START_SCRIPT = `#!/bin/sh
mkdir -p /srv
echo "started by START_SCRIPT in $(pwd)" > /srv/index.html
nohup python3 -m http.server 8000 --bind 0.0.0.0 --directory /srv >/var/log/http.log 2>&1 &
`;
const USER_DATA = `#cloud-config
write_files:
  - path: /srv/user-data.txt
    content: written by USER_DATA
runcmd:
  - [sh, -c, "echo runcmd ran > /srv/runcmd.txt"]
`;

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

async function waitForHttp(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await get(url);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe.skipIf(!usable)("LXD-backed OpenNebula hypervisor (real LXD)", () => {
  const lxd = client as LxdClient;
  const hypervisors: LxdSimHypervisor[] = [];
  let subnet: { prefix: string; gateway: string };
  const baseId = 700_000 + Math.floor(Math.random() * 90_000);

  beforeAll(async () => {
    subnet = await freeTestSubnet(lxd);
  });
  afterAll(async () => {
    for (const h of hypervisors) await h.close().catch(() => undefined);
  });

  function vm(id: number, version: SimOneVersion, ip: string): SimVm {
    return {
      id,
      name: `lgt-h4b-vm-${id}`,
      oneVersion: version,
      nics: [
        {
          name: "NIC0",
          ip,
          mac: `02:00:0a:${id.toString(16).slice(-6).padStart(6, "0").match(/../g)?.join(":")}`,
          network: "lgt-h4b-vnet",
          mask: "255.255.255.0",
          gateway: subnet.gateway,
          dns: "10.0.0.53",
        },
      ],
      context: {
        NETWORK: "YES",
        ETH0_IP: ip,
        ETH0_MAC: `02:00:0a:${id.toString(16).slice(-6).padStart(6, "0").match(/../g)?.join(":")}`,
        ETH0_MASK: "255.255.255.0",
        ETH0_GATEWAY: subnet.gateway,
        ETH0_DNS: "10.0.0.53",
        START_SCRIPT_BASE64: Buffer.from(START_SCRIPT).toString("base64"),
        USER_DATA: Buffer.from(USER_DATA).toString("base64"),
        USER_DATA_ENCODING: "base64",
      },
    };
  }

  for (const [i, version, readsUserData] of [
    [0, "6.8", false],
    [1, "6.10.0", false],
    [2, "6.10.5", true],
  ] as const) {
    it(`${version}: the guest applies ETH0_* and START_SCRIPT_BASE64; USER_DATA ${readsUserData ? "applied" : "ignored"}`, async () => {
      const h = new LxdSimHypervisor({ client: lxd, sessionId: `h4bt${i}${baseId}` });
      hypervisors.push(h);
      const id = baseId + i;
      const ip = `${subnet.prefix}.${20 + i}`;
      await h.deploy(vm(id, version, ip));
      const name = `one-${id}`;
      const instance = await lxd.getInstance(name);
      expect(instance?.status).toBe("Running");
      expect(instance?.config[SIM_OWNER_KEY]).toBe(h.sessionId);

      const status = await readGuestContextStatus(lxd, id);
      expect(status?.error).toBeUndefined();
      expect(status?.network).toEqual([`eth0 ${ip}/24 via ${subnet.gateway}`]);
      expect(status?.startScript).toBe(0);
      // The live guest, not the report: its address, its route and resolv.conf.
      const addr = await lxd.exec(name, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
      expect(addr.stdout).toContain(`${ip}/24`);
      const route = await lxd.exec(name, ["ip", "-4", "route", "show", "default"]);
      expect(route.stdout).toContain(`default via ${subnet.gateway}`);
      expect((await lxd.readFile(name, "/etc/resolv.conf"))?.toString()).toContain("nameserver 10.0.0.53");

      // From the host over the bridge the hypervisor created (the gateway address is on it).
      await waitForHttp(`http://${ip}:8000/`);
      expect((await get(`http://${ip}:8000/`)).body).toContain("started by START_SCRIPT in /context");
      const userData = await get(`http://${ip}:8000/user-data.txt`);
      const runcmd = await get(`http://${ip}:8000/runcmd.txt`);
      if (readsUserData) {
        expect(status?.userData).toMatch(/^applied/);
        expect(userData.body).toContain("written by USER_DATA");
        expect(runcmd.body).toContain("runcmd ran");
      } else {
        expect(status?.userData).toMatch(/^ignored/);
        expect(userData.status).toBe(404);
        expect(runcmd.status).toBe(404);
      }

      const bridge = h.bridgeName("lgt-h4b-vnet");
      expect((await lxd.getNetwork(bridge))?.config["ipv4.address"]).toBe(`${subnet.gateway}/24`);
      await h.destroy(id);
      expect(await lxd.getInstance(name)).toBeUndefined();
      // The last NIC on the network is gone: so is its bridge, as the bridge vn_mad cleans up.
      expect(await lxd.getNetwork(bridge)).toBeUndefined();
      expect(h.created()).toEqual({ containers: [], bridges: [] });
    }, 120_000);
  }

  it("poweroff, resume and suspend act on the container; close() removes what is left", async () => {
    const h = new LxdSimHypervisor({ client: lxd, sessionId: `h4bt9${baseId}` });
    hypervisors.push(h);
    const id = baseId + 9;
    await h.deploy(vm(id, "7.0", `${subnet.prefix}.29`));
    const name = `one-${id}`;
    await h.suspend(id);
    expect((await lxd.getInstanceState(name)).status).toBe("Frozen");
    await h.resume(id);
    expect((await lxd.getInstanceState(name)).status).toBe("Running");
    await h.poweroff(id, true);
    expect((await lxd.getInstanceState(name)).status).toBe("Stopped");
    await h.resume(id);
    expect((await lxd.getInstanceState(name)).status).toBe("Running");
    await h.close();
    expect(await lxd.getInstance(name)).toBeUndefined();
    expect(await lxd.getNetwork(h.bridgeName("lgt-h4b-vnet"))).toBeUndefined();
  }, 120_000);

  it("refuses a VNet whose subnet this machine already routes, before creating anything", async () => {
    // A subnet of this machine's own routing table (its LAN, or another suite's bridge): data only, no packet is sent.
    const routes = execFileSync("ip", ["-4", "route", "show"], { encoding: "utf8" });
    const taken = /^(\d+\.\d+\.\d+)\.\d+\/(2[4-9]|1\d|[89]) dev (\S+)/m.exec(routes);
    if (!taken) return;
    const h = new LxdSimHypervisor({ client: lxd, sessionId: `h4bt11${baseId}` });
    hypervisors.push(h);
    const id = baseId + 11;
    const clash = vm(id, "6.8", `${taken[1]}.77`);
    const nic = { ...clash.nics[0]!, gateway: `${taken[1]}.78` };
    const error = await h.deploy({ ...clash, nics: [nic] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ONE_SIM_SUBNET_IN_USE" });
    expect((error as Error).message).toContain(`via ${taken[3]}`);
    expect(await lxd.getInstance(`one-${id}`)).toBeUndefined();
    expect(await lxd.getNetwork(h.bridgeName("lgt-h4b-vnet"))).toBeUndefined();
  });

  it("refuses to take over a one-<id> container it did not create, and leaves it alone", async () => {
    const id = baseId + 10;
    const name = `one-${id}`;
    const root = Object.values((await lxd.getProfile("default"))?.devices ?? {}).find((d) => d.path === "/");
    await lxd.createInstance({
      name,
      profiles: [],
      devices: { root: { type: "disk", path: "/", pool: root?.pool ?? "default" } },
      source: { type: "none" },
    });
    try {
      const h = new LxdSimHypervisor({ client: lxd, sessionId: `h4bt10${baseId}` });
      hypervisors.push(h);
      const error = await h.deploy(vm(id, "6.8", `${subnet.prefix}.30`)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "ONE_SIM_NAME_TAKEN" });
      await h.destroy(id);
      expect(await lxd.getInstance(name)).toBeDefined();
    } finally {
      await lxd.deleteInstance(name);
    }
  }, 60_000);
});
