import { LXD_CLOUD_INIT_KEYS, LxdAdapter } from "@labgate/core";
import { describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import * as lxdNode from "../../../../core/src/adapters/lxd-node.js";
import { lxdBridgedSpec } from "../../../../core/src/adapters/test-support/lxd-bridged-spec.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { launchBody } from "./instance-launch.js";
import { LAB_MARKER_KEY, lxdLabOptions, ROLE_KEY } from "./lxd-lab-options.js";

// The one LXD node body, watched (it still runs): both the deploy adapter and the lab's launch must build
// their POST /1.0/instances through it. A lab that assembled its own body again would not call it.
vi.mock("../../../../core/src/adapters/lxd-node.js", async (real) => {
  const mod = await real<typeof import("../../../../core/src/adapters/lxd-node.js")>();
  return { ...mod, lxdNodeBody: vi.fn(mod.lxdNodeBody) };
});

const deploySpec = lxdBridgedSpec("web1", "labgate/debian-bookworm-cloud");

const o = lxdLabOptions(
  parseLabSpec({ name: "nodes", provider: "lxd", network: { cidr: "10.20.0.0/24" } }, "node-body"),
);
const address = { ip: "10.20.0.30", prefix: 24, gateway: "10.20.0.1", dns: [] };

describe("the deploy adapter and the lab make their LXD instance through core's one node body", () => {
  it("both bodies come out of lxdNodeBody, cloud-init's documents under the same keys from the same renderer", () => {
    const spy = vi.mocked(lxdNode.lxdNodeBody);
    spy.mockClear();
    const deploy = new LxdAdapter({ spec: deploySpec }).body(deploySpec);
    const lab = launchBody(o, o.apps[0] as (typeof o.apps)[0], {
      keys: LXD_CLOUD_INIT_KEYS,
      userData: "#cloud-config\nhostname: app1\n",
      address,
    });
    expect(spy).toHaveBeenCalledTimes(2);
    expect(spy.mock.results.map((r) => r.value)).toEqual([deploy, lab]);

    // The caller's extras: deploy's limits and owner key, the lab's marker and role, each NIC and disk.
    expect(deploy.config).toMatchObject({ "limits.cpu": "1", "user.labgate.deploy": "web1" });
    expect(lab.config).toMatchObject({ [LAB_MARKER_KEY]: "nodes", [ROLE_KEY]: "app" });
    expect(lab.devices?.eth0).toEqual({ type: "nic", network: o.bridge, name: "eth0" });
    // The shared part: type, cloud-init keys, network-config v2 with the default route cloud-init 22.4 accepts.
    for (const body of [deploy, lab]) {
      expect(body.type).toBe("container");
      expect(body.config?.[LXD_CLOUD_INIT_KEYS.userData]).toMatch(/^#cloud-config\n/);
      const net = parse(body.config?.[LXD_CLOUD_INIT_KEYS.networkConfig] ?? "");
      expect(net.version).toBe(2);
      expect(Object.values(net.ethernets as Record<string, { routes: unknown }>)[0]?.routes).toEqual([
        { to: "0.0.0.0/0", via: expect.stringMatching(/\.1$/) },
      ]);
    }
  });

  it("the lab's push variant (no cloud-init) gets no cloud-init keys, still from the same body", () => {
    const spy = vi.mocked(lxdNode.lxdNodeBody);
    spy.mockClear();
    const body = launchBody(o, o.lb);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(Object.keys(body.config ?? {}).sort()).toEqual([LAB_MARKER_KEY, ROLE_KEY].sort());
    expect(body.description).toBe(`labgate lab nodes: lb`);
  });
});
