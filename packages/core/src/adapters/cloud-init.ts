import type { ResolvedSpec } from "./types.js";

/**
 * cloud-init documents for a spec: meta-data with the network (v2) for static addresses, and
 * #cloud-config user-data with the hostname and SSH keys. JSON is valid YAML, so no YAML writer is needed.
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

export function networkConfig(spec: ResolvedSpec): Record<string, unknown> | undefined {
  const n = spec.resolvedNetwork;
  if (n.mode !== "static") return undefined;
  return {
    version: 2,
    ethernets: {
      primary: {
        match: { name: "e*" },
        addresses: [`${n.ip}/${n.prefix}`],
        routes: [{ to: "default", via: n.gateway }],
        nameservers: { addresses: n.dns },
      },
    },
  };
}

export function cloudInitUserData(spec: ResolvedSpec): string {
  const config: Record<string, unknown> = { hostname: spec.name, preserve_hostname: false };
  if (spec.ssh_authorized_keys?.length) config.ssh_authorized_keys = spec.ssh_authorized_keys;
  return `#cloud-config\n${JSON.stringify(config, null, 2)}\n`;
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
