import { displayQuote, renderNetworkConfig, type StaticIpv4, staticNetworkConfig } from "@labgate/core";

export type StaticAddress = StaticIpv4;

/** Where the boot hooks live; labgate's image runs them at every boot (see image/init-script.ts). */
export const BOOT_HOOK_DIR = "/etc/labgate/boot.d";
export const NETWORK_HOOK = `${BOOT_HOOK_DIR}/10-network.sh`;

/**
 * Static address for images without cloud-init: plain `ip` commands, idempotent (`replace`), run
 * now through the API and again at every boot as a hook.
 */
export function renderNetworkScript(a: StaticAddress, device = "eth0"): string {
  const lines = [
    "#!/bin/sh",
    "# Written by labgate: static address (the lab network has no DHCP).",
    "set -e",
    `ip link set ${displayQuote(device)} up`,
    `ip addr replace ${a.ip}/${a.prefix} dev ${displayQuote(device)}`,
    `ip route replace default via ${a.gateway} dev ${displayQuote(device)}`,
  ];
  if (a.dns.length) {
    lines.push(
      `printf '%s\\n' ${a.dns.map((d) => displayQuote(`nameserver ${d}`)).join(" ")} > /etc/resolv.conf`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** cloud-init network-config (version 2) for images with cloud-init: core's one renderer, on the container's eth0. */
export function cloudInitNetwork(a: StaticAddress, device = "eth0"): Record<string, unknown> {
  return staticNetworkConfig(a, { device });
}

export function renderCloudInitNetworkConfig(a: StaticAddress, device = "eth0"): string {
  return renderNetworkConfig(cloudInitNetwork(a, device));
}
