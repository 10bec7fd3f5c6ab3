import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  cloudInitUserData,
  DEFAULT_ROUTE,
  renderCloudConfig,
  renderNetworkConfig,
  seedNetworkConfig,
  staticNetworkConfig,
} from "./cloud-init.js";
import type { ResolvedSpec } from "./types.js";

/** Debian's python3, where the cloud-init package (scripts/install-system-deps.sh) puts its modules. */
const DEBIAN_PYTHON = "/usr/bin/python3";

/**
 * Parses a network-config with cloud-init's own code (cloudinit/net/network_state.py) and renders it
 * with Debian's ifupdown renderer (cloudinit/net/eni.py) and the netplan renderer (cloudinit/net/netplan.py).
 * Prints the two results as JSON, or exits 1 with the parser's error.
 */
const RENDER = `
import json, sys, yaml
from cloudinit.net import eni, netplan, network_state
try:
    state = network_state.parse_net_config_data(yaml.safe_load(sys.stdin.read()))
    out = {"eni": eni.Renderer({})._render_interfaces(state), "netplan": netplan.Renderer({})._render_content(state)}
except Exception as e:
    sys.stderr.write(f"{type(e).__name__}: {e}\\n")
    sys.exit(1)
print(json.dumps(out))
`;

function cloudInitRender(networkConfig: string): { eni: string; netplan: string } {
  return JSON.parse(
    execFileSync(DEBIAN_PYTHON, ["-c", RENDER], {
      input: networkConfig,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
    }),
  );
}

const address = { ip: "10.20.0.30", prefix: 24, gateway: "10.20.0.1", dns: ["10.20.0.1"] };

describe("network-config", () => {
  it("is the exact YAML the LXD lab writes: eth0, address, default route as 0.0.0.0/0, DNS", () => {
    expect(renderNetworkConfig(staticNetworkConfig(address, { device: "eth0" }))).toBe(
      [
        "version: 2",
        "ethernets:",
        "  eth0:",
        "    addresses:",
        "      - 10.20.0.30/24",
        "    routes:",
        "      - to: 0.0.0.0/0",
        "        via: 10.20.0.1",
        "    nameservers:",
        "      addresses:",
        "        - 10.20.0.1",
        "",
      ].join("\n"),
    );
  });

  it("cloud-init's own parser takes it and Debian's ifupdown renderer writes the default gateway", () => {
    const rendered = cloudInitRender(renderNetworkConfig(staticNetworkConfig(address, { device: "eth0" })));
    expect(rendered.eni).toContain("iface eth0 inet static");
    expect(rendered.eni).toContain("address 10.20.0.30/24");
    expect(rendered.eni).toContain("route add default gw 10.20.0.1");
    expect(rendered.eni).toContain("dns-nameservers 10.20.0.1");
    expect(parse(rendered.netplan).network.ethernets.eth0).toMatchObject({
      addresses: ["10.20.0.30/24"],
      routes: [{ to: DEFAULT_ROUTE, via: "10.20.0.1" }],
    });
  });

  it('the same parser refuses `to: "default"`, the form the deploy path wrote before (so the check above can fail)', () => {
    const old = renderNetworkConfig({
      version: 2,
      ethernets: { eth0: { addresses: ["10.20.0.30/24"], routes: [{ to: "default", via: "10.20.0.1" }] } },
    });
    expect(() => cloudInitRender(old)).toThrow(/Address default is not a valid ip address/);
  });

  it("a deployed VM matches its NIC by name (e*), and cloud-init renders that too", () => {
    const config = renderNetworkConfig(staticNetworkConfig(address, { id: "primary", match: "e*" }));
    expect(parse(config).ethernets.primary).toMatchObject({ match: { name: "e*" } });
    expect(cloudInitRender(config).netplan).toContain("name: e*");
  });

  it("a seed without a static address asks for DHCP on the first NIC", () => {
    const spec = { name: "web1", resolvedNetwork: { mode: "dhcp" } } as unknown as ResolvedSpec;
    expect(parse(seedNetworkConfig(spec))).toEqual({
      version: 2,
      ethernets: { primary: { match: { name: "e*" }, dhcp4: true } },
    });
    expect(cloudInitRender(seedNetworkConfig(spec)).netplan).toContain("dhcp4: true");
  });
});

describe("user-data", () => {
  it("is #cloud-config YAML; file contents stay whole literal blocks", () => {
    const text = renderCloudConfig({
      write_files: [{ path: "/etc/x.conf", content: `line one ${"x".repeat(120)}\nline two\n` }],
      runcmd: ["sh /etc/x.sh"],
    });
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(text).toContain(`content: |\n      line one ${"x".repeat(120)}\n      line two\n`);
    expect(parse(text).write_files[0].content).toBe(`line one ${"x".repeat(120)}\nline two\n`);
  });

  it("a deployed node's user-data sets the hostname and the SSH keys", () => {
    const spec = {
      name: "web1",
      ssh_authorized_keys: ["ssh-ed25519 AAAA test"],
      resolvedNetwork: { mode: "dhcp" },
    } as unknown as ResolvedSpec;
    expect(parse(cloudInitUserData(spec))).toEqual({
      hostname: "web1",
      preserve_hostname: false,
      ssh_authorized_keys: ["ssh-ed25519 AAAA test"],
    });
  });
});
