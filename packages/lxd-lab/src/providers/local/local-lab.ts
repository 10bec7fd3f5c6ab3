import { join } from "node:path";
import { formatIpv4, isValidIpv4, parseCidr, parseIpv4 } from "@labgate/core";
import type { StepContext } from "../../engine/step.js";
import { LabSpecError } from "../../errors.js";
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
  /**
   * Each app in its own network namespace, joined to the host by a veth pair (needs root): the link
   * that delay/loss faults (tc netem) act on. Off by default so the quick start needs no root.
   */
  netns: boolean;
  /** Private IPv4 range the per-app /30 links are cut from (netns mode only). */
  netnsRange: string;
}

/** Where the per-app /30 links come from unless providerOptions.netnsRange says otherwise. */
export const DEFAULT_NETNS_RANGE = "10.251.0.0/24";

export interface LocalApp {
  name: string;
  port: number;
}

/** The most requests a round-robin verification sends (the CLI's --requests has the same bound). */
export const MAX_VERIFY_REQUESTS = 10_000;

/**
 * Reads and checks providerOptions: each value is refused (exit 2, naming the field) rather than
 * replaced by a default or passed on unchecked, so nothing odd reaches a command line or a listener.
 */
export function localOptions(spec: LabSpec): LocalProviderOptions {
  const o = spec.providerOptions ?? {};
  const bad = (key: string, problem: string, hint: string): never => {
    throw new LabSpecError(
      "lab spec",
      `providerOptions.${key}`,
      `${JSON.stringify(o[key])} ${problem}`,
      hint,
    );
  };
  const str = (key: string, fallback: string): string => {
    if (o[key] === undefined) return fallback;
    const value = o[key];
    if (typeof value !== "string" || value.trim() === "")
      return bad(
        key,
        "is not a non-empty string.",
        `Set providerOptions.${key} to a path, e.g. "${fallback}".`,
      );
    // Control characters (newline, NUL, bidi overrides) would split or disguise a printed command.
    if (/[\p{Cc}\p{Cf}]/u.test(value))
      return bad(
        key,
        "contains control or format characters.",
        `Set providerOptions.${key} to a plain path.`,
      );
    return value;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    if (o[key] === undefined) return fallback;
    if (typeof o[key] !== "boolean")
      return bad(key, "is not true or false.", `E.g. "${key}": true (or leave it out for ${fallback}).`);
    return o[key] as boolean;
  };
  const num = (key: string, fallback: number, min: number, max: number, whole: boolean): number => {
    if (o[key] === undefined) return fallback;
    const value = o[key];
    if (
      typeof value !== "number" ||
      !Number.isFinite(value) ||
      value < min ||
      value > max ||
      (whole && !Number.isInteger(value))
    )
      return bad(
        key,
        `is not a ${whole ? "whole " : ""}number from ${min} to ${max}.`,
        `E.g. "${key}": ${fallback}.`,
      );
    return value;
  };
  return {
    bindAddress: loopbackBindAddress(str("bindAddress", "127.0.0.1"), bad),
    python: str("python", "python3"),
    haproxy: str("haproxy", "haproxy"),
    startTimeoutMs: num("startTimeoutMs", 10_000, 100, 600_000, true),
    verifyRequests: num("verifyRequests", Math.max(20, 10 * spec.apps.count), 1, MAX_VERIFY_REQUESTS, true),
    tolerancePct: num("tolerancePct", 10, 0, 100, false),
    netns: bool("netns", false),
    netnsRange: netnsRange(str("netnsRange", DEFAULT_NETNS_RANGE), spec.apps.count, bad),
  };
}

/**
 * A private IPv4 range (RFC 1918) with room for one /30 per app: the links stay on this machine, and a
 * public or loopback range would shadow real destinations or the lab's own loopback address.
 */
function netnsRange(
  text: string,
  apps: number,
  bad: (key: string, problem: string, hint: string) => never,
): string {
  const hint = `Use a private IPv4 network with room for a /30 per app, e.g. "${DEFAULT_NETNS_RANGE}".`;
  let subnet: ReturnType<typeof parseCidr>;
  try {
    subnet = parseCidr(text);
  } catch (error) {
    return bad("netnsRange", `is not an IPv4 network (${(error as Error).message})`, hint);
  }
  const inside = (cidr: string) => {
    const outer = parseCidr(cidr);
    return subnet.network >= outer.network && subnet.last <= outer.last;
  };
  if (!["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].some(inside))
    return bad("netnsRange", "is not inside a private range (10/8, 172.16/12, 192.168/16).", hint);
  if (2 ** (32 - subnet.prefix) < 4 * apps)
    return bad("netnsRange", `has no room for ${apps} /30 links (${4 * apps} addresses).`, hint);
  return subnet.cidr;
}

/**
 * The local lab lives on loopback only (the network rule): an IPv4 host address in 127.0.0.0/8. 0.0.0.0
 * would listen on every interface, and neither it nor a hostname fits the lab's loopback IP pool.
 */
function loopbackBindAddress(
  address: string,
  bad: (key: string, problem: string, hint: string) => never,
): string {
  const hint = 'Use a loopback address such as "127.0.0.1" or "127.0.0.2" (or leave bindAddress out).';
  if (!isValidIpv4(address)) return bad("bindAddress", "is not an IPv4 address.", hint);
  const ip = parseIpv4(address);
  if (ip === 0)
    return bad("bindAddress", "would listen on every interface; the local lab stays on loopback.", hint);
  if (ip >>> 24 !== 127) return bad("bindAddress", "is not a loopback address (127.0.0.0/8).", hint);
  if (ip === 0x7f000000 || ip === 0x7fffffff)
    return bad("bindAddress", "is the network or broadcast address of 127.0.0.0/8.", hint);
  return formatIpv4(ip);
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
