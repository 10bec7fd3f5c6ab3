import type { LabHealthCheckSpec, LabSpec } from "./lab-spec.js";

/** labgate's HAProxy check timing when the spec says nothing (HAProxy's own `inter` default is 2 s). */
export const HEALTH_CHECK_DEFAULTS: LabHealthCheckSpec = { intervalMs: 1_000, fall: 2, rise: 1 };

/**
 * Bounds of `lb.healthCheck`: checks faster than 100 ms per server load the apps more than the
 * bench; slower than a minute, a dead backend takes minutes to leave the pool.
 */
export const HEALTH_CHECK_LIMITS = {
  minIntervalMs: 100,
  maxIntervalMs: 60_000,
  maxFall: 100,
  maxRise: 100,
} as const;

/** The timing HAProxy runs with for this spec (defaults filled in). */
export function labHealthCheck(spec: Pick<LabSpec, "lb">): LabHealthCheckSpec {
  return { ...HEALTH_CHECK_DEFAULTS, ...spec.lb.healthCheck };
}

/**
 * How long HAProxy needs to stop sending to a backend that stopped answering: `fall` failed checks,
 * `inter` apart (the first one comes up to one interval after the fault, so the real figure lies
 * between (fall - 1) × inter and fall × inter, plus the check's own time).
 */
export function expectedDetectionMs(check: LabHealthCheckSpec): number {
  return check.intervalMs * check.fall;
}

/** "inter 1s fall 2 rise 1" as HAProxy's server line says it. */
export function describeHealthCheck(check: LabHealthCheckSpec): string {
  const inter = check.intervalMs % 1_000 === 0 ? `${check.intervalMs / 1_000}s` : `${check.intervalMs}ms`;
  return `inter ${inter} fall ${check.fall} rise ${check.rise}`;
}
