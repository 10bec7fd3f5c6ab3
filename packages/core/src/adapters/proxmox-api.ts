import { PlatformConfigError } from "../errors.js";
import { registerSecret } from "../util/redact.js";
import { HttpJsonClient, type HttpJsonOptions, type HttpResponse } from "./http-json.js";
import { requireEnv } from "./options.js";
import { checkEnvelope, isRecord, type Shape, shapes } from "./response-shape.js";

/** user@realm!tokenid, as Proxmox shows the Token ID. */
const TOKEN_ID = /^[^\s@!=]+@[^\s@!=]+![A-Za-z][A-Za-z0-9._-]*$/;

/**
 * A client for the Proxmox REST API (/api2/json) authenticated with the API token in
 * PROXMOX_TOKEN_ID / PROXMOX_TOKEN_SECRET; `url` is already resolved (trailing slash removed) by the caller (whose missing-URL
 * error names its own flag). The secret is registered for redaction before anything can print it.
 */
export function proxmoxClient(
  url: string,
  env: NodeJS.ProcessEnv,
  transport: Pick<HttpJsonOptions, "insecureTls" | "ca" | "onCall">,
): HttpJsonClient {
  const [tokenId, secret] = requireEnv(
    "Proxmox",
    ["PROXMOX_TOKEN_ID", "PROXMOX_TOKEN_SECRET"],
    env,
    "API token",
  ) as [string, string];
  registerSecret(secret);
  if (!TOKEN_ID.test(tokenId)) {
    // The header is PVEAPIToken=USER@REALM!TOKENID=SECRET; a bare token name yields a puzzling 401.
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
    ...transport,
  });
}

/**
 * Unwraps Proxmox's `{data: ...}` envelope and checks its shape (apidata's "returns"); a non-2xx answer
 * becomes the caller's error, since the adapter and reconcile give different advice for the same status.
 */
export async function proxmoxData<T>(
  pending: Promise<HttpResponse>,
  what: string,
  shape: Shape<T>,
  refused: (res: HttpResponse, what: string) => Error,
): Promise<T> {
  const res = await pending;
  if (res.status >= 200 && res.status < 300) return checkEnvelope("proxmox", res, what, shape);
  throw refused(res, what);
}

/** apidata qemu {vmid}/config: a flat object of strings and numbers. */
export const PROXMOX_VM_CONFIG = {
  expects: "a VM configuration object",
  check: (v: unknown) =>
    isRecord(v) && Object.values(v).every((x) => typeof x === "string" || typeof x === "number")
      ? (v as Record<string, string | number>)
      : undefined,
} satisfies Shape<Record<string, string | number>>;

/** apidata "vmlist": vmid (integer), name (optional), template (1 for templates). */
export const PROXMOX_VM_LIST = shapes.arrayOf({
  expects: "VM entries ({vmid, name})",
  check: (v: unknown) =>
    isRecord(v) && typeof v.vmid === "number" && (v.name === undefined || typeof v.name === "string")
      ? { vmid: String(v.vmid), name: v.name as string | undefined, template: Boolean(v.template) }
      : undefined,
});
