import { request } from "node:http";

export interface HttpProbeResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpProbeOptions {
  method?: string;
  body?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/**
 * One HTTP request on a fresh connection (no agent, `Connection: close`), so every request is a
 * new connection and HAProxy balances each one independently of keep-alive reuse.
 */
export function httpProbe(url: string, options: HttpProbeOptions = {}): Promise<HttpProbeResult> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: "close", ...options.headers };
    if (options.body !== undefined) {
      headers["content-type"] ??= "application/json";
      headers["content-length"] = String(Buffer.byteLength(options.body));
    }
    const req = request(url, {
      method: options.method ?? "GET",
      agent: false,
      headers,
      timeout: timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A header's single value (first one if repeated). */
export function headerValue(result: HttpProbeResult, name: string): string | undefined {
  const value = result.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
