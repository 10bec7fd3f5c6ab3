import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { LxdClient } from "../platforms/lxd/lxd-client.js";
import { asyncOp, operation, startFakeLxd, sync } from "../platforms/lxd/test-support/fake-lxd-socket.js";
import { OpenNebulaClient } from "../platforms/opennebula/client.js";
import { OneSimulator } from "../platforms/opennebula/sim/one-simulator.js";
import { LxdAdapter } from "./lxd.js";
import { OpenNebulaAdapter } from "./opennebula.js";
import { oneLabVmSpec, seedOneLab } from "./test-support/one-lab-seed.js";
import { poolStaticNetwork } from "./test-support/static-network.js";
import type { ResolvedSpec } from "./types.js";

const staticNet = poolStaticNetwork("192.168.3.33", ["8.8.8.8", "8.8.4.4"]);

describe("OpenNebulaAdapter wraps the XML-RPC client (against the OpenNebula simulator)", () => {
  it("instantiates the template with the fixed IP on the NIC and ETH0_* context, waits, terminates", async () => {
    const sim = new OneSimulator({ hosts: [{ name: "lxd1", vmMad: "lxd", state: "MONITORED" }] });
    const endpoint = await sim.start();
    try {
      const client = new OpenNebulaClient({ endpoint, session: "oneadmin:opennebula" });
      const tpl = await seedOneLab(client);
      const spec = oneLabVmSpec("one-vm", tpl, staticNet, { cores: 2, memory_mib: 2048 });
      const adapter = new OpenNebulaAdapter({ spec, client, pollIntervalMs: 5 });
      expect(adapter.validate(spec)).toEqual([]);
      const extra = adapter.extraTemplate(spec);
      expect(extra).toContain("<ETH0_IP>192.168.3.33</ETH0_IP>");
      const ref = await adapter.create(spec);
      const info = await adapter.waitUntilRunning(ref, { timeoutMs: 5000, intervalMs: 5 });
      expect(info).toMatchObject({
        state: "running",
        rawState: "ACTIVE/RUNNING",
        addresses: ["192.168.3.33"],
      });
      await adapter.destroy(ref);
      expect((await adapter.get(ref))?.state).toBe("terminated");
      await adapter.destroy(ref);
      expect(await adapter.get({ ...ref, id: "999" })).toBeUndefined();
    } finally {
      await sim.stop();
    }
  });
});

describe("LxdAdapter wraps the LXD client (fake LXD socket)", () => {
  it("creates the instance with cloud-init network-config for the static address, starts it and reads its address", async () => {
    let created: Record<string, unknown> | undefined;
    let status = "Stopped";
    const lxd = await startFakeLxd((req, body) => {
      const url = req.url ?? "";
      if (req.method === "POST" && url.startsWith("/1.0/instances")) {
        created = JSON.parse(body.toString());
        return asyncOp("op1");
      }
      if (url.startsWith("/1.0/operations/"))
        return operation(url.split("/")[3]?.split("?")[0] ?? "op", "Success");
      if (req.method === "PUT" && url.startsWith("/1.0/instances/web3/state")) {
        status = JSON.parse(body.toString()).action === "start" ? "Running" : "Stopped";
        return asyncOp("op2");
      }
      if (req.method === "GET" && url.startsWith("/1.0/instances/web3/state")) {
        return sync({
          status,
          status_code: status === "Running" ? 103 : 102,
          pid: 1,
          processes: 1,
          network: {
            eth0: {
              addresses: [{ family: "inet", address: "192.168.3.33", netmask: "24", scope: "global" }],
              state: "up",
            },
          },
        });
      }
      if (req.method === "GET" && url.startsWith("/1.0/instances/web3")) {
        return created
          ? sync({
              name: "web3",
              status,
              status_code: 103,
              type: "container",
              architecture: "x86_64",
              description: "",
              ephemeral: false,
              profiles: [],
              config: {},
              devices: {},
            })
          : undefined;
      }
      if (req.method === "DELETE" && url.startsWith("/1.0/instances/web3")) {
        created = undefined;
        return asyncOp("op3");
      }
      return undefined;
    });
    try {
      const spec: ResolvedSpec = {
        name: "web3",
        platform: "lxd",
        os: { family: "linux" },
        cores: 2,
        memory_mib: 1024,
        disk_gb: 10,
        image: { ref: "ubuntu/22.04" },
        network: { attach: "labbr0", cidr: "192.168.3.0/24" },
        resolvedNetwork: { ...staticNet, attach: "labbr0" },
      };
      const adapter = new LxdAdapter({
        spec,
        client: new LxdClient({ socketPath: lxd.socketPath }),
        pollIntervalMs: 5,
      });
      expect(adapter.validate(spec)).toEqual([]);
      const ref = await adapter.create(spec);
      expect(created).toMatchObject({
        name: "web3",
        type: "container",
        source: { type: "image", alias: "ubuntu/22.04" },
        config: { "limits.cpu": "2", "limits.memory": "1024MiB" },
        devices: {
          eth0: { type: "nic", network: "labbr0" },
          root: { type: "disk", path: "/", size: "10GB" },
        },
      });
      const net = parseYaml(
        (created?.config as Record<string, string> | undefined)?.["cloud-init.network-config"] as string,
      );
      expect(net.ethernets.primary).toMatchObject({
        addresses: ["192.168.3.33/24"],
        routes: [{ to: "0.0.0.0/0", via: "192.168.3.1" }],
      });
      expect(await adapter.waitUntilRunning(ref, { timeoutMs: 2000, intervalMs: 5 })).toMatchObject({
        state: "running",
        addresses: ["192.168.3.33"],
      });
      await adapter.destroy(ref);
      expect(created).toBeUndefined();
    } finally {
      await lxd.close();
    }
  });
});
