import { join } from "node:path";
import { formatIpv4, isValidIpv4, parseCidr, parseIpv4 } from "@labgate/core";
import type { StepContext } from "../../engine/step.js";
import { LabSpecError } from "../../errors.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { opts, readOptions } from "../provider-options.js";

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
  const { value: v, findings } = readOptions(o, {
    bindAddress: opts.stringOr("127.0.0.1", { plain: true, example: '"bindAddress": "127.0.0.1"' }),
    python: opts.stringOr("python3", { plain: true, example: '"python": "/usr/bin/python3"' }),
    haproxy: opts.stringOr("haproxy", { plain: true, example: '"haproxy": "/usr/sbin/haproxy"' }),
    startTimeoutMs: opts.numberOr(10_000, { integer: true, min: 100, max: 600_000 }),
    verifyRequests: opts.numberOr(Math.max(20, 10 * spec.apps.count), {
      integer: true,
      min: 1,
      max: MAX_VERIFY_REQUESTS,
    }),
    tolerancePct: opts.numberOr(10, { min: 0, max: 100 }),
    netns: opts.boolean({ default: false }),
    netnsRange: opts.stringOr(DEFAULT_NETNS_RANGE, { plain: true }),
  });
  const [first, ...more] = findings;
  if (first) {
    const also = more.length ? ` (also ${more.map((f) => `${f.field}: ${f.problem}`).join("; ")})` : "";
    throw new LabSpecError(
      "lab spec",
      first.field,
      `${first.problem}${also}.`,
      [first, ...more].map((f) => f.fix).join(" "),
    );
  }
  return {
    bindAddress: loopbackBindAddress(v.bindAddress, bad),
    python: v.python,
    haproxy: v.haproxy,
    startTimeoutMs: v.startTimeoutMs,
    verifyRequests: v.verifyRequests,
    tolerancePct: v.tolerancePct,
    netns: v.netns ?? false,
    netnsRange: netnsRange(v.netnsRange, spec.apps.count, bad),
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
