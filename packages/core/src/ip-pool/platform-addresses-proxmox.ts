import type { HttpJsonClient, HttpResponse } from "../adapters/http-json.js";
import { PROXMOX_VM_CONFIG, PROXMOX_VM_LIST, proxmoxClient, proxmoxData } from "../adapters/proxmox-api.js";
import type { Shape } from "../adapters/response-shape.js";
import { PlatformApiError, PlatformConfigError } from "../errors.js";
import { isValidIpv4 } from "./ipv4.js";
import type { PlatformAddress } from "./reconcile.js";

export interface ProxmoxAddressOptions {
  /** The nodes whose VMs are read (GET /nodes/{node}/qemu each). */
  nodes: readonly string[];
  /** https://pve1:8006 (default $PROXMOX_URL). */
  url?: string;
  /** Accept a self-signed certificate (a lab's default). */
  insecureTls?: boolean;
  /** PROXMOX_URL, PROXMOX_TOKEN_ID (user@realm!tokenid), PROXMOX_TOKEN_SECRET (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** qemu-server's ipconfig[n]: `ip=<IPv4/CIDR|dhcp>[,gw=...][,ip6=...]` (PVE/QemuServer/Cloudinit.pm). */
const IPCONFIG_KEY = /^ipconfig\d+$/;

/**
 * Every static IPv4 address Proxmox VMs are configured with: the cloud-init `ipconfigN: ip=A.B.C.D/NN`
 * of every VM on the given nodes, running or stopped (a stopped VM's address is still its own).
 * Templates are left out: nothing boots from a template's config. DHCP NICs carry no address here.
 */
export async function proxmoxAddresses(options: ProxmoxAddressOptions): Promise<PlatformAddress[]> {
  if (options.nodes.length === 0) {
    throw new PlatformConfigError("PLATFORM_OPTION_MISSING", "Proxmox reconcile needs the node(s) to read.", {
      hint: "Pass --node pve1 (repeatable), or set PROXMOX_NODE.",
    });
  }
  const http = proxmoxHttp(options);
  const found: PlatformAddress[] = [];
  for (const node of options.nodes) {
    const path = `/nodes/${encodeURIComponent(node)}/qemu`;
    const vms = await data(http.request("GET", path), `GET ${path}`, PROXMOX_VM_LIST);
    for (const vm of vms) {
      if (vm.template) continue;
      const configPath = `${path}/${vm.vmid}/config`;
      const config = await data(http.request("GET", configPath), `GET ${configPath}`, PROXMOX_VM_CONFIG);
      const holder = vm.name ?? (typeof config.name === "string" ? config.name : `vmid:${vm.vmid}`);
      for (const [key, value] of Object.entries(config)) {
        if (!IPCONFIG_KEY.test(key)) continue;
        const ip = ipconfigAddress(String(value));
        if (ip) found.push({ ip, holder, seenIn: `VM ${vm.vmid} on ${node} ${key}` });
      }
    }
  }
  return found;
}

/** The IPv4 address of an ipconfig value, or undefined for ip=dhcp or none. */
export function ipconfigAddress(value: string): string | undefined {
  for (const part of value.split(",")) {
    const [k, v] = part.split("=", 2);
    if (k?.trim() !== "ip" || v === undefined) continue;
    const ip = v.trim().split("/")[0] as string;
    return isValidIpv4(ip) ? ip : undefined;
  }
  return undefined;
}

function proxmoxHttp(options: ProxmoxAddressOptions): HttpJsonClient {
  const env = options.env ?? process.env;
  const url = (options.url ?? env.PROXMOX_URL)?.replace(/\/$/, "");
  if (!url) {
    throw new PlatformConfigError("PLATFORM_OPTION_MISSING", "No Proxmox URL is configured.", {
      hint: "Export PROXMOX_URL=https://pve1:8006 (or pass --url).",
    });
  }
  return proxmoxClient(url, env, {
    insecureTls: options.insecureTls === true,
  });
}

function data<T>(pending: Promise<HttpResponse>, what: string, shape: Shape<T>): Promise<T> {
  return proxmoxData(pending, what, shape, refused);
}

// Proxmox puts its message in the reason phrase; the codes are the Proxmox adapter's, the hints reconcile's.
function refused(res: HttpResponse, what: string): PlatformApiError {
  const code =
    res.status === 401
      ? "PLATFORM_AUTH_FAILED"
      : res.status === 403
        ? "PLATFORM_PERMISSION_DENIED"
        : "PLATFORM_API_ERROR";
  return new PlatformApiError(
    "proxmox",
    code,
    `Proxmox refused ${what}: ${res.status} ${res.statusMessage}.`,
    {
      status: res.status,
      hint:
        res.status === 401 || res.status === 403
          ? "Check PROXMOX_TOKEN_ID (user@realm!tokenid) and PROXMOX_TOKEN_SECRET, and that the token may read the VMs (VM.Audit on /vms)."
          : "Check the node name (--node) and that PROXMOX_URL is the Proxmox API (https://HOST:8006).",
    },
  );
}
