import { join } from "node:path";
import type { StepContext } from "../../engine/step.js";
import type { LabSpec } from "../../spec/lab-spec.js";

/** Settings the local provider reads from `providerOptions` in the lab spec (all optional). */
export interface LocalProviderOptions {
  /**
   * Loopback address everything binds to (default 127.0.0.1). It is the single address of the
   * lab's loopback pool: the apps and HAProxy share it and differ by port, which keeps the
   * issue's 127.0.0.1:8000/:8001/:8080 as the visible result.
   */
  bindAddress: string;
  python: string;
  haproxy: string;
  /** Seconds to wait for an app or HAProxy to answer after start. */
  startTimeoutMs: number;
  verifyRequests: number;
  /** Allowed deviation from an even split, in percentage points. */
  tolerancePct: number;
}

export interface LocalApp {
  name: string;
  port: number;
}

export function localOptions(spec: LabSpec): LocalProviderOptions {
  const o = spec.providerOptions ?? {};
  const str = (key: string, fallback: string) =>
    typeof o[key] === "string" && o[key] ? (o[key] as string) : fallback;
  const num = (key: string, fallback: number) =>
    typeof o[key] === "number" && Number.isFinite(o[key]) ? (o[key] as number) : fallback;
  return {
    bindAddress: str("bindAddress", "127.0.0.1"),
    python: str("python", "python3"),
    haproxy: str("haproxy", "haproxy"),
    startTimeoutMs: num("startTimeoutMs", 10_000),
    verifyRequests: num("verifyRequests", Math.max(20, 10 * spec.apps.count)),
    tolerancePct: num("tolerancePct", 10),
  };
}

export function localApps(spec: LabSpec): LocalApp[] {
  return Array.from({ length: spec.apps.count }, (_, i) => ({
    name: `${spec.apps.namePrefix}${i + 1}`,
    port: spec.apps.ports[i] ?? (spec.apps.ports[0] ?? 8000) + i,
  }));
}

/** The address recorded by the allocate step, else the configured one (plan time, status of a fresh lab). */
export function labAddress(ctx: StepContext): string {
  const recorded = ctx.resources("address")[0];
  return recorded?.id ?? localOptions(ctx.spec).bindAddress;
}

export const localPaths = {
  runDir: (stateDir: string) => join(stateDir, "run"),
  logDir: (stateDir: string) => join(stateDir, "logs"),
  pidFile: (stateDir: string, name: string) => join(stateDir, "run", `${name}.pid`),
  logFile: (stateDir: string, name: string) => join(stateDir, "logs", `${name}.log`),
  haproxyConfig: (stateDir: string) => join(stateDir, "run", "haproxy.cfg"),
  ipPoolState: (stateDir: string) => join(stateDir, "ip-pool.state.json"),
};

export function lbUrl(address: string, spec: LabSpec): string {
  return `http://${address}:${spec.lb.port}/`;
}

export function statsCsvUrl(address: string, spec: LabSpec): string {
  return `http://${address}:${spec.lb.statsPort}/stats;csv`;
}

/**
 * Read-only steps (preflight, round-robin verification) leave a "check" record when they pass, so
 * the first `lab up` shows and runs them and a later one reports them as already done.
 */
export async function recordPassedCheck(
  ctx: StepContext,
  id: string,
  stepId: string,
  detail: string,
): Promise<void> {
  await ctx.record({ kind: "check", id, stepId, data: { passedAt: new Date().toISOString(), detail } });
}

export function hasPassedCheck(ctx: StepContext, id: string): boolean {
  return ctx.resources("check").some((r) => r.id === id);
}

export async function forgetCheck(ctx: StepContext, id: string): Promise<void> {
  if (hasPassedCheck(ctx, id)) await ctx.forget("check", id);
}
