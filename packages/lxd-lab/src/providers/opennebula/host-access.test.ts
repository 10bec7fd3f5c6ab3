import { ExitCode, type LabgateError } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { describePlan } from "../../engine/plan-view.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { exposePlan } from "./expose-step.js";
import { createOpenNebulaProvider } from "./one-lab.js";
import { oneLabOptions } from "./one-lab-options.js";
import { OneLabRuntime } from "./one-lab-runtime.js";

const spec = (
  providerOptions: Record<string, unknown>,
  expose = { address: "127.0.0.1", port: 18280 },
): LabSpec => ({
  name: "lab",
  provider: "opennebula",
  network: { cidr: "192.168.3.0/24", dhcp: false },
  apps: { count: 2, ports: [8000, 8001], namePrefix: "app" },
  lb: { port: 8080, statsPort: 8404, name: "lb", expose },
  image: "ubuntu:22.04",
  slos: [],
  providerOptions: { host: "127.0.0.1", ...providerOptions },
});

const invalid = (options: Record<string, unknown>, expose?: { address: string; port: number }) => {
  try {
    oneLabOptions(spec(options, expose));
  } catch (error) {
    return error as LabgateError;
  }
  throw new Error("expected ONE_OPTION_INVALID");
};

describe("providerOptions.hostAccess", () => {
  it("defaults to ssh when ssh is set and to none otherwise", () => {
    expect(oneLabOptions(spec({ ssh: { host: "192.168.3.20" } })).hostAccess).toBe("ssh");
    expect(oneLabOptions(spec({})).hostAccess).toBe("none");
  });

  it("local: host commands run on this machine through the local runner, no SSH step", () => {
    const o = oneLabOptions(spec({ hostAccess: "local", hostPrep: false }));
    expect(o).toMatchObject({ hostAccess: "local", hostPrep: false });
    const runner = new OneLabRuntime(o, {}).runner();
    expect(runner?.target).toBe("local");
    const ids = describePlan(
      createOpenNebulaProvider(),
      spec({ hostAccess: "local", hostPrep: false }),
    ).steps.map((s) => s.id);
    expect(ids).toContain("one-expose");
    expect(ids).not.toContain("one-ssh");
    // Without access to the host there is nobody to add the proxy device: no exposure step.
    expect(describePlan(createOpenNebulaProvider(), spec({})).steps.map((s) => s.id)).not.toContain(
      "one-expose",
    );
  });

  it("local with host preparation plans the host-prep steps on this machine", () => {
    const ids = describePlan(createOpenNebulaProvider(), spec({ hostAccess: "local" })).steps.map(
      (s) => s.id,
    );
    expect(ids.indexOf("one-expose")).toBeGreaterThan(0);
    expect(ids.some((id) => id.startsWith("host-"))).toBe(true);
  });

  it("refuses unknown values, ssh without ssh settings, and local together with ssh", () => {
    for (const [options, text] of [
      [{ hostAccess: "telnet" }, 'hostAccess "telnet" is not ssh, local or none'],
      [{ hostAccess: "ssh" }, "providerOptions.ssh is not set"],
      [{ hostAccess: "local", ssh: { host: "192.168.3.20" } }, "unclear where host commands should run"],
    ] as const) {
      const error = invalid(options);
      expect(error.code).toBe("ONE_OPTION_INVALID");
      expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
      expect(error.message).toContain(text);
    }
  });
});

describe("providerOptions.virtualbox", () => {
  it("adds the manual NAT step after the exposure", () => {
    const s = spec(
      { hostAccess: "local", hostPrep: false, virtualbox: { vm: "one", hostPort: 8080 } },
      {
        address: "0.0.0.0",
        port: 18280,
      },
    );
    const steps = describePlan(createOpenNebulaProvider(), s).steps;
    const ids = steps.map((x) => x.id);
    expect(ids.indexOf("one-virtualbox-nat")).toBe(ids.indexOf("one-expose") + 1);
    expect(steps.find((x) => x.id === "one-virtualbox-nat")?.commands[0]).toContain(
      'VBoxManage controlvm one natpf1 "labgate-lb,tcp,,8080,,18280"',
    );
  });

  it("refuses a loopback exposure (VirtualBox NAT cannot reach it), a bad port and a missing vm", () => {
    expect(invalid({ virtualbox: { vm: "one", hostPort: 8080 } }).message).toContain("is loopback");
    const wide = { address: "0.0.0.0", port: 18280 };
    expect(invalid({ virtualbox: { vm: "one", hostPort: 70000 } }, wide).message).toContain("must be a port");
    expect(invalid({ virtualbox: { hostPort: 8080 } }, wide).message).toContain("{ vm, hostPort }");
    expect(invalid({ virtualbox: { vm: 'a"b', hostPort: 8080 } }, wide).message).toContain(
      "no double quotes",
    );
  });
});

describe("exposure on an LXC host (iptables, no LXD proxy device)", () => {
  const line = ([cmd, args]: [string, string[]]) => [cmd, ...args].join(" ");

  it("DNATs connections from elsewhere (PREROUTING) and from the host itself (OUTPUT)", () => {
    const plan = exposePlan("lxc", 2, "10.0.0.5", 8080, "192.168.3.20", 18080, "br0");
    expect(plan.add.map(line)).toEqual([
      "sysctl -w net.ipv4.ip_forward=1",
      "iptables -t nat -A PREROUTING -p tcp -d 192.168.3.20 --dport 18080 -j DNAT --to-destination 10.0.0.5:8080 -m comment --comment labgate-expose",
      "iptables -t nat -A OUTPUT -p tcp -d 192.168.3.20 --dport 18080 -j DNAT --to-destination 10.0.0.5:8080 -m comment --comment labgate-expose",
    ]);
    expect(plan.remove.map(line)).toEqual(
      plan.add
        .slice(1)
        .map(line)
        .map((l) => l.replace(" -A ", " -D ")),
    );
    expect(plan.localnetDevice).toBeUndefined();
  });

  it("a loopback address also routes 127.0.0.0/8 on the LB's bridge and masquerades, as Docker does", () => {
    const plan = exposePlan("lxc", 2, "10.0.0.5", 8080, "127.0.0.1", 18280, "br0");
    expect(plan.add.map(line)).toEqual([
      "sysctl -w net.ipv4.ip_forward=1",
      "sysctl -w net.ipv4.conf.br0.route_localnet=1",
      "iptables -t nat -A PREROUTING -p tcp -d 127.0.0.1 --dport 18280 -j DNAT --to-destination 10.0.0.5:8080 -m comment --comment labgate-expose",
      "iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport 18280 -j DNAT --to-destination 10.0.0.5:8080 -m comment --comment labgate-expose",
      "iptables -t nat -A POSTROUTING -p tcp -s 127.0.0.0/8 -d 10.0.0.5 --dport 8080 -j MASQUERADE -m comment --comment labgate-expose",
    ]);
    expect(plan.remove).toHaveLength(3);
    expect(plan.localnetDevice).toBe("br0");
    expect(line(plan.check)).toContain("-C OUTPUT");
  });

  it("an LXD host gets the proxy device, whatever the address", () => {
    const plan = exposePlan("lxd", 7, "10.0.0.5", 8080, "127.0.0.1", 18280);
    expect(plan.add.map(line)).toEqual([
      "lxc config device add one-7 labgate-expose proxy listen=tcp:127.0.0.1:18280 connect=tcp:10.0.0.5:8080",
    ]);
  });
});
