import { round } from "./duration.js";
import type { BenchResult } from "./types.js";

/** Method, URL and the body by size and type only (the body itself may be large or sensitive). */
export function describeRequest(o: Pick<BenchResult["options"], "method" | "url" | "body">): string {
  const body = o.body
    ? ` with a ${formatBytes(o.body.bytes)} body (${o.body.contentType}${o.body.contentTypeInferred ? ", inferred" : ""})`
    : "";
  return `${o.method} ${o.url}${body}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${round(n / 1024, 1)} KiB`;
  return `${round(n / 1024 / 1024, 2)} MiB`;
}
