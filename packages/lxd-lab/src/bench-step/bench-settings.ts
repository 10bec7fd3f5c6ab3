import { parseSlo } from "@labgate/bench";
import type { LabBenchSpec, LabSpec } from "../spec/lab-spec.js";

/**
 * What the final bench sends: the service's real work, one sentiment prediction through the LB,
 * with a review of the length and mix of praise and complaint the model is meant for. `GET /`
 * would only measure an info page.
 */
export const BENCH_REQUEST = {
  method: "POST",
  path: "predict",
  contentType: "application/json",
  body: JSON.stringify({
    text:
      "Ordered the trail jacket last week. Delivery was fast and the fit is great, but the zipper " +
      "broke after two days and support still has not answered my emails. Disappointed.",
  }),
} as const;

export const BENCH_DEFAULTS = { durationMs: 5_000, connections: 10 } as const;

export interface ResolvedBenchSettings extends LabBenchSpec {
  enabled: boolean;
  /** Warm-up before the measured window (not counted): a fifth of it, at most 1 s. */
  warmupMs: number;
}

export function benchSettings(spec: LabSpec): ResolvedBenchSettings {
  const b = spec.bench ?? {};
  const durationMs = b.durationMs ?? BENCH_DEFAULTS.durationMs;
  return {
    enabled: b.enabled !== false,
    durationMs,
    connections: b.connections ?? BENCH_DEFAULTS.connections,
    ...(b.rate !== undefined ? { rate: b.rate } : {}),
    warmupMs: Math.min(1_000, Math.round(durationMs / 5)),
  };
}

/** The URL the bench requests: the request path relative to the lab's endpoint (keeps a path prefix). */
export function benchUrl(endpoint: string): string {
  return new URL(BENCH_REQUEST.path, endpoint).toString();
}

/** "5 s, 10 connections" or "5 s at 50 req/s (constant rate, 10 connections)". */
export function describeLoad(s: Pick<LabBenchSpec, "durationMs" | "connections" | "rate">): string {
  const seconds = `${s.durationMs / 1000} s`;
  return s.rate !== undefined
    ? `${seconds} at ${s.rate} req/s (constant rate, up to ${s.connections} connections)`
    : `${seconds}, ${s.connections} connections (closed loop)`;
}

/** SLO metrics read from fault windows (bench's slo.ts): only a run with faults can judge them. */
export const FAULT_SLO_METRICS: readonly string[] = ["fault_errors", "fault_p99", "detection", "recovery"];

export function isFaultSlo(expression: string): boolean {
  return FAULT_SLO_METRICS.includes(parseSlo(expression).metric);
}

/** The SLOs the plain bench step judges: every one but the fault metrics (the failover step judges all). */
export function benchStepSlos(spec: Pick<LabSpec, "slos">): string[] {
  return spec.slos.filter((x) => !isFaultSlo(x));
}
