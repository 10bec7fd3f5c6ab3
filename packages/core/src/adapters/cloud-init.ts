import { stringify } from "yaml";
import type { ResolvedSpec } from "./types.js";

/**
 * The one cloud-init renderer: network-config (version 2) and #cloud-config user-data for the deploy
 * adapters (lxd, esxi, aws, azure) and for the lab providers (LXD containers, OpenNebula payloads).
 */

/** A static IPv4 configuration as cloud-init applies it. */
export interface StaticIpv4 {
  ip: string;
  prefix: number;
  gateway: string;
  dns: string[];
}

/**
 * Which NIC a network-config entry applies to: a fixed device name (LXD containers always have eth0),
 * or a name pattern under an entry id (a VM's NIC is ens192, enp1s0, ... depending on the hypervisor).
 */
export type NicSelector = { device: string } | { id: string; match: string };

/**
 * The default route's destination. netplan also takes "default", but cloud-init 22.4's v2 parser
 * (cloudinit/net/network_state.py, _normalize_net_keys, used before the ifupdown renderer
 * cloudinit/net/eni.py on Debian) raises "Address default is not a valid ip address".
 */
export const DEFAULT_ROUTE = "0.0.0.0/0";

/** network-config version 2 for one NIC with a static address, a default route and (optionally) DNS. */
export function staticNetworkConfig(a: StaticIpv4, nic: NicSelector): Record<string, unknown> {
  const ethernet: Record<string, unknown> = {
    ...("match" in nic ? { match: { name: nic.match } } : {}),
    addresses: [`${a.ip}/${a.prefix}`],
    routes: [{ to: DEFAULT_ROUTE, via: a.gateway }],
  };
  if (a.dns.length) ethernet.nameservers = { addresses: a.dns };
  return { version: 2, ethernets: { ["match" in nic ? nic.id : nic.device]: ethernet } };
}

/** network-config version 2 that asks for DHCP on every NIC whose name matches `match`. */
export function dhcpNetworkConfig(nic: { id: string; match: string }): Record<string, unknown> {
  return { version: 2, ethernets: { [nic.id]: { match: { name: nic.match }, dhcp4: true } } };
}

/** network-config as the YAML document cloud-init reads (LXD's cloud-init.network-config, a seed's network-config). */
export function renderNetworkConfig(config: Record<string, unknown>): string {
  return stringify(config);
}

/**
 * `#cloud-config` user-data from its modules' keys. Long lines stay whole and multi-line contents
 * become literal blocks, so written files arrive byte for byte.
 */
export function renderCloudConfig(document: Record<string, unknown>): string {
  return `#cloud-config\n${stringify(document, { lineWidth: 0, blockQuote: "literal" })}`;
}

/** VMs name their first NIC differently per hypervisor; cloud-init matches it by pattern. */
const DEPLOY_NIC = { id: "primary", match: "e*" } as const;

/**
 * cloud-init documents for a spec: meta-data with the network (v2) for static addresses, and
 * #cloud-config user-data with the hostname and SSH keys.
 */
export function cloudInitMetadata(spec: ResolvedSpec): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    "instance-id": `labgate-${spec.name}`,
    "local-hostname": spec.name,
  };
  const network = networkConfig(spec);
  if (network) meta.network = network;
  return meta;
}

/** The deployed node's network-config: its static address, or nothing when the platform or DHCP gives one. */
export function networkConfig(spec: ResolvedSpec): Record<string, unknown> | undefined {
  const n = spec.resolvedNetwork;
  if (n.mode !== "static") return undefined;
  return staticNetworkConfig(n, DEPLOY_NIC);
}

/** The network-config a seed image carries: the static address, or DHCP on the first NIC. */
export function seedNetworkConfig(spec: ResolvedSpec): string {
  return renderNetworkConfig(networkConfig(spec) ?? dhcpNetworkConfig(DEPLOY_NIC));
}

export function cloudInitUserData(spec: ResolvedSpec): string {
  const config: Record<string, unknown> = { hostname: spec.name, preserve_hostname: false };
  if (spec.ssh_authorized_keys?.length) config.ssh_authorized_keys = spec.ssh_authorized_keys;
  return renderCloudConfig(config);
}

/** VMware guestinfo keys for cloud-init's VMware datasource (base64, as `govc vm.change -e` sets them). */
export function guestinfoKeys(spec: ResolvedSpec): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  return {
    "guestinfo.metadata": b64(JSON.stringify(cloudInitMetadata(spec))),
    "guestinfo.metadata.encoding": "base64",
    "guestinfo.userdata": b64(cloudInitUserData(spec)),
    "guestinfo.userdata.encoding": "base64",
  };
}
