import { HttpJsonClient, type HttpResponse } from "../adapters/http-json.js";
import { requireEnv } from "../adapters/options.js";
import { checkEnvelope, isRecord, type Shape, shapes } from "../adapters/response-shape.js";
import { PlatformApiError, PlatformConfigError } from "../errors.js";
import { registerSecret } from "../util/redact.js";
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

/** user@realm!tokenid, as Proxmox shows the Token ID (the same check as the Proxmox adapter's). */
const TOKEN_ID = /^[^\s@!=]+@[^\s@!=]+![A-Za-z][A-Za-z0-9._-]*$/;
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
    const vms = await data(http.request("GET", path), `GET ${path}`, VM_LIST);
    for (const vm of vms) {
      if (vm.template) continue;
      const configPath = `${path}/${vm.vmid}/config`;
      const config = await data(http.request("GET", configPath), `GET ${configPath}`, CONFIG);
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
  const [tokenId, secret] = requireEnv(
    "Proxmox",
    ["PROXMOX_TOKEN_ID", "PROXMOX_TOKEN_SECRET"],
    env,
    "API token",
  ) as [string, string];
  registerSecret(secret);
  if (!TOKEN_ID.test(tokenId)) {
    throw new PlatformConfigError(
      "PLATFORM_CREDENTIALS_INVALID",
      `PROXMOX_TOKEN_ID must be USER@REALM!TOKENID (e.g. labgate@pve!deploy), got "${tokenId}".`,
      { hint: "Copy the full Token ID shown under Datacenter → Permissions → API Tokens." },
    );
  }
  return new HttpJsonClient({
    baseUrl: url.endsWith("/api2/json") ? url : `${url}/api2/json`,
    platform: "proxmox",
    headers: () => ({ authorization: `PVEAPIToken=${tokenId}=${secret}` }),
    insecureTls: options.insecureTls === true,
  });
}

async function data<T>(pending: Promise<HttpResponse>, what: string, shape: Shape<T>): Promise<T> {
  const res = await pending;
  if (res.status >= 200 && res.status < 300) return checkEnvelope("proxmox", res, what, shape);
  // Proxmox puts its message in the reason phrase; the codes are the Proxmox adapter's.
  const code =
    res.status === 401
      ? "PLATFORM_AUTH_FAILED"
      : res.status === 403
        ? "PLATFORM_PERMISSION_DENIED"
        : "PLATFORM_API_ERROR";
  throw new PlatformApiError(
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

/** apidata "vmlist": vmid (integer), name (optional), template (1 for templates). */
const VM_LIST = shapes.arrayOf({
  expects: "VM entries ({vmid, name})",
  check: (v: unknown) =>
    isRecord(v) && typeof v.vmid === "number" && (v.name === undefined || typeof v.name === "string")
      ? { vmid: String(v.vmid), name: v.name as string | undefined, template: Boolean(v.template) }
      : undefined,
});
/** apidata qemu {vmid}/config: a flat object of strings and numbers. */
const CONFIG = {
  expects: "a VM configuration object",
  check: (v: unknown) =>
    isRecord(v) && Object.values(v).every((x) => typeof x === "string" || typeof x === "number")
      ? (v as Record<string, string | number>)
      : undefined,
} satisfies Shape<Record<string, string | number>>;
