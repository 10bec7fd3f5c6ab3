import type { PlannedCall } from "./types.js";

/** One planned HTTP request, as `deploy plan` prints it; params only when the request has a body. */
export function httpCall(
  action: string,
  target: string,
  why: string,
  params?: Record<string, unknown>,
): PlannedCall {
  return { kind: "http", action, target, why, ...(params ? { params } : {}) };
}
