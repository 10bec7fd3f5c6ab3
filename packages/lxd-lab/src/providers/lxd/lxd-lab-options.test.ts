import { describe, expect, it } from "vitest";
import { describePlan } from "../../engine/plan-view.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { exposeDevice } from "./expose-step.js";
import { resolveImageRef } from "./image-source.js";
import { renderCloudInitNetworkConfig, renderNetworkScript } from "./instance-network.js";
import { defaultBridgeName, lxdLabOptions } from "./lxd-lab-options.js";
import { createLxdProvider } from "./lxd-provider.js";
import { labIpPoolConfig } from "./lxd-runtime.js";
import { bridgeConfig } from "./network-step.js";

const spec = (extra: Record<string, unknown> = {}) =>
  parseLabSpec(
    {
      name: "demo",
      provider: "lxd",
      network: { cidr: "10.20.0.0/24" },
      image: "labgate/debian-bookworm",
      ...extra,
    },
    "test",
  );

describe("lxdLabOptions", () => {
  it("derives bridge, gateway, pool range, instance names and the exposed address from the spec", () => {
    const o = lxdLabOptions(spec());
    expect(o.bridge).toBe("lg-demo");
    expect(o.gateway).toBe("10.20.0.1");
    expect(o.addressPool).toEqual({ start: "10.20.0.30", end: "10.20.0.60" });
    expect(o.apps.map((a) => [a.instance, a.port])).toEqual([
      ["demo-app1", 8000],
      ["demo-app2", 8001],
    ]);
    expect(o.lb).toMatchObject({ instance: "demo-lb", port: 8080, role: "lb" });
    expect(o.expose).toEqual({ address: "127.0.0.1", port: 8080 });
    expect(o.storagePool).toBe("default");
  });

  it("bridge config: gateway on the host, no NAT, no DHCP, no IPv6, marked with the lab", () => {
    expect(bridgeConfig(lxdLabOptions(spec()))).toEqual({
      "ipv4.address": "10.20.0.1/24",
      "ipv4.nat": "false",
      "ipv4.dhcp": "false",
      "ipv6.address": "none",
      "user.labgate.lab": "demo",
    });
  });

  it("keeps bridge names within Linux's 15 characters and rejects bad ones", () => {
    expect(defaultBridgeName("a-very-long-lab-name")).toBe("lg-a-very-long");
    expect(defaultBridgeName("x")).toBe("lg-x");
    expect(() =>
      lxdLabOptions(spec({ network: { cidr: "10.20.0.0/24", name: "much-too-long-bridge" } })),
    ).toThrow(/15 characters/);
  });

  it("rejects unknown provider options and subnets too small for a lab", () => {
    expect(() => lxdLabOptions(spec({ providerOptions: { sockt: "/x" } }))).toThrow(/unknown option/);
    expect(() => lxdLabOptions(spec({ network: { cidr: "10.20.0.0/30" } }))).toThrow(/too small/);
    expect(() => lxdLabOptions(spec({ providerOptions: { payload: "ftp" } }))).toThrow(
      /auto, cloud-init or push/,
    );
  });

  it("the lab's IP pool config is the spec's subnet without DHCP", () => {
    expect(
      labIpPoolConfig(
        lxdLabOptions(
          spec({ providerOptions: { addressPool: { start: "10.20.0.100", end: "10.20.0.110" } } }),
        ),
      ),
    ).toEqual({
      networks: [
        {
          name: "lg-demo",
          cidr: "10.20.0.0/24",
          gateway: "10.20.0.1",
          dns: [],
          dhcp: false,
          pools: [{ start: "10.20.0.100", end: "10.20.0.110" }],
        },
      ],
    });
  });

  it("the proxy device listens on the host address and connects to HAProxy inside the LB", () => {
    const o = lxdLabOptions(spec({ lb: { expose: { address: "127.0.0.1", port: 18080 } } }));
    expect(exposeDevice(o)).toEqual({
      type: "proxy",
      listen: "tcp:127.0.0.1:18080",
      connect: "tcp:127.0.0.1:8080",
      bind: "host",
    });
  });
});

describe("plan", () => {
  it("is pure: the steps come from the spec alone, without touching LXD", () => {
    const provider = createLxdProvider({
      clientFor: () => {
        throw new Error("plan() must not talk to LXD");
      },
    });
    const steps = describePlan(provider, spec()).steps;
    expect(steps.map((s) => s.id)).toEqual([
      "preflight",
      "create-network",
      "allocate-addresses",
      "launch-app1",
      "deploy-app1",
      "launch-app2",
      "deploy-app2",
      "launch-lb",
      "deploy-lb",
      "expose-lb",
      "verify-round-robin",
      "bench",
    ]);
    for (const step of steps) {
      expect(step.why.length).toBeGreaterThan(40);
      expect(step.commands.length).toBeGreaterThan(0);
    }
    expect(provider.endpoint?.(spec())).toBe("http://127.0.0.1:8080/");
  });
});

describe("instance network", () => {
  const address = { ip: "10.20.0.30", prefix: 24, gateway: "10.20.0.1", dns: ["10.20.0.1"] };
  it("push mode: idempotent ip commands", () => {
    const script = renderNetworkScript(address);
    expect(script).toContain("ip addr replace 10.20.0.30/24 dev eth0");
    expect(script).toContain("ip route replace default via 10.20.0.1 dev eth0");
    expect(script).toContain("nameserver 10.20.0.1");
  });
  it("cloud-init: network-config version 2 with a static address", () => {
    expect(renderCloudInitNetworkConfig({ ...address, dns: [] })).toBe(
      "version: 2\nethernets:\n  eth0:\n    addresses:\n      - 10.20.0.30/24\n    routes:\n      - to: 0.0.0.0/0\n        via: 10.20.0.1\n",
    );
  });
});

describe("image references", () => {
  it("local aliases and fingerprints stay local; remote: prefixes are pulled from their image server", () => {
    expect(resolveImageRef("labgate/debian-bookworm")).toMatchObject({
      where: "local",
      source: { type: "image", alias: "labgate/debian-bookworm" },
    });
    expect(resolveImageRef("2976038c0fda")).toMatchObject({
      where: "local",
      source: { fingerprint: "2976038c0fda" },
    });
    expect(resolveImageRef("ubuntu:22.04")).toMatchObject({
      where: "remote",
      source: {
        mode: "pull",
        server: "https://cloud-images.ubuntu.com/releases",
        protocol: "simplestreams",
        alias: "22.04",
      },
    });
  });
});
