import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { PlatformApiError } from "../errors.js";
import { redact } from "../util/redact.js";

export interface HttpJsonOptions {
  /** Base URL, e.g. https://pve1:8006/api2/json. */
  baseUrl: string;
  platform: string;
  /** Headers sent with every request (auth); never printed. */
  headers?: () => Record<string, string>;
  /** Self-signed lab certificates: accept them only when asked. */
  insecureTls?: boolean;
  /** PEM CA bundle for the platform's certificate. */
  ca?: string;
  timeoutMs?: number;
  onCall?: (description: string) => void;
}

export interface HttpResponse {
  status: number;
  statusMessage: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/**
 * Minimal JSON-over-HTTP(S) client shared by the Proxmox and vSphere adapters. It uses node:http(s)
 * directly so a lab's self-signed certificate can be accepted per client (undici's fetch cannot).
 */
export class HttpJsonClient {
  constructor(private readonly options: HttpJsonOptions) {}

  async request(
    method: string,
    path: string,
    body?: { json?: unknown; form?: Record<string, string | number | boolean> },
    extraHeaders: Record<string, string> = {},
  ): Promise<HttpResponse> {
    const url = new URL(this.options.baseUrl.replace(/\/$/, "") + path);
    let payload: string | undefined;
    const headers: Record<string, string> = {
      accept: "application/json",
      ...this.options.headers?.(),
      ...extraHeaders,
    };
    if (body?.json !== undefined) {
      payload = JSON.stringify(body.json);
      headers["content-type"] = "application/json";
    } else if (body?.form !== undefined) {
      payload = new URLSearchParams(
        Object.entries(body.form).map(([k, v]): [string, string] => [k, String(v)]),
      ).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
    this.options.onCall?.(redact(`${method} ${url.pathname}${url.search}`));
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers,
          timeout: this.options.timeoutMs ?? 30_000,
          ...(url.protocol === "https:"
            ? { rejectUnauthorized: !this.options.insecureTls, ca: this.options.ca }
            : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            if (text && /json/.test(String(res.headers["content-type"] ?? ""))) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({
              status: res.statusCode ?? 0,
              statusMessage: res.statusMessage ?? "",
              headers: res.headers,
              body: parsed,
              text,
            });
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(new Error(`no answer within ${this.options.timeoutMs ?? 30_000} ms`)),
      );
      req.on("error", (cause) =>
        reject(
          new PlatformApiError(
            this.options.platform,
            "PLATFORM_UNREACHABLE",
            `${method} ${url.origin}${url.pathname} failed: ${redact(cause.message)}.`,
            {
              hint: `Check that ${url.origin} is reachable from here and the URL is right${url.protocol === "https:" ? "; for a self-signed certificate pass its CA (ca_file) or insecure_tls: true" : ""}.`,
              cause,
            },
          ),
        ),
      );
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}
