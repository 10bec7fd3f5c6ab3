import { networkInterfaces } from "node:os";
import { parse as parseYaml } from "yaml";
import { isValidIpv4 } from "./ipv4.js";
import type { PlatformAddress } from "./reconcile.js";

/** What `listInstances` and `getInstanceState` of an LXD client return, as far as addresses go. */
export interface LxdAddressSource {
  listInstances(): Promise<
    {
      name: string;
      status: string;
      config: Record<string, string>;
      expanded_config?: Record<string, string>;
      expanded_devices?: Record<string, Record<string, string>>;
      devices: Record<string, Record<string, string>>;
    }[]
  >;
  getInstanceState(name: string): Promise<{
    network?: Record<string, { addresses: { family: string; address: string; scope: string }[] }>;
  }>;
}

/**
 * Every IPv4 address LXD instances use: what running instances report, plus what their config
 * assigns even while stopped - a NIC's `ipv4.address`, and the addresses of a cloud-init
 * network-config (the LXD lab's way) - so a stopped instance's address is not called leaked.
 */
export async function lxdAddresses(client: LxdAddressSource): Promise<PlatformAddress[]> {
  const found: PlatformAddress[] = [];
  for (const instance of await client.listInstances()) {
    const config = instance.expanded_config ?? instance.config;
    const devices = instance.expanded_devices ?? instance.devices;
    for (const [name, device] of Object.entries(devices)) {
      const ip = device.type === "nic" ? device["ipv4.address"] : undefined;
      if (ip && isValidIpv4(ip))
        found.push({ ip, holder: instance.name, seenIn: `device ${name} ipv4.address` });
    }
    for (const key of ["cloud-init.network-config", "user.network-config"]) {
      const text = config[key];
      if (text) {
        for (const ip of networkConfigAddresses(text)) found.push({ ip, holder: instance.name, seenIn: key });
      }
    }
    if (instance.status === "Running") {
      const state = await client.getInstanceState(instance.name);
      for (const [iface, net] of Object.entries(state.network ?? {})) {
        for (const a of net.addresses) {
          if (a.family === "inet" && a.scope === "global") {
            found.push({ ip: a.address, holder: instance.name, seenIn: `running, ${iface}` });
          }
        }
      }
    }
  }
  return found;
}

/** IPv4 addresses of a cloud-init network-config (v1 subnets[].address, v2 ethernets.*.addresses). */
export function networkConfigAddresses(text: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  const visit = (node: unknown, key?: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, key);
    } else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) visit(v, k);
    } else if (typeof node === "string" && (key === "addresses" || key === "address")) {
      const ip = node.split("/")[0] as string;
      if (isValidIpv4(ip)) out.push(ip);
    }
  };
  visit(doc);
  return out;
}

/** The addresses on this machine's interfaces (the local platform: labs on this host's loopback or bridges). */
export function localAddresses(): PlatformAddress[] {
  return Object.entries(networkInterfaces()).flatMap(([name, infos]) =>
    (infos ?? [])
      .filter((i) => i.family === "IPv4")
      .map((i) => ({ ip: i.address, holder: name, seenIn: `interface ${name}` })),
  );
}
