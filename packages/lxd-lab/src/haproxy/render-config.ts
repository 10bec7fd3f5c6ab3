import { InvalidInputError, isValidIpv4, parseIpv4 } from "@labgate/core";
import { labHealthCheck } from "../spec/health-check.js";
import type { LabSpec } from "../spec/lab-spec.js";

/** One app instance behind the load balancer. */
export interface HaproxyBackendServer {
  /** Server name in HAProxy; also the X-Served-By value HAProxy adds when the app does not. */
  name: string;
  /** IP address or resolvable host name. */
  address: string;
  port: number;
}

/**
 * "if-missing": add `X-Served-By: <server name>` only when the app did not set it (our app does);
 * "always": overwrite it with the HAProxy server name; "never": leave responses alone.
 */
export type ServedByHeaderMode = "if-missing" | "always" | "never";

export interface HaproxyConfigOptions {
  /** Lab name, written in the header comment and used in proxy names. */
  labName: string;
  /** Address the frontend and stats listener bind to ("127.0.0.1" locally, "0.0.0.0" on an LB instance). */
  bindAddress: string;
  port: number;
  statsPort: number;
  backends: HaproxyBackendServer[];
  /** Path answered by the apps with 200 when healthy. */
  healthPath?: string;
  servedByHeader?: ServedByHeaderMode;
  /** Serve Prometheus metrics on the stats listener at /metrics (needs HAProxy built with USE_PROMEX). */
  prometheus?: boolean;
  /** Health-check interval in ms (default 1000), consecutive failures to mark down (2), successes to mark up (1). */
  checkIntervalMs?: number;
  fall?: number;
  rise?: number;
  maxconn?: number;
  timeouts?: Partial<HaproxyTimeouts>;
  /**
   * Unix socket for HAProxy's runtime API at admin level (`set server <be>/<srv> state drain`),
   * mode 600 so only the lab's user may drive it. Left out when undefined.
   */
  statsSocket?: string;
}

export interface HaproxyTimeouts {
  connectMs: number;
  clientMs: number;
  serverMs: number;
  httpRequestMs: number;
  httpKeepAliveMs: number;
  queueMs: number;
  checkMs: number;
}

export const DEFAULT_HAPROXY_TIMEOUTS: HaproxyTimeouts = {
  connectMs: 2_000,
  clientMs: 30_000,
  serverMs: 30_000,
  httpRequestMs: 10_000,
  httpKeepAliveMs: 5_000,
  queueMs: 10_000,
  checkMs: 2_000,
};

/** Paths served on the stats listener. */
export const HAPROXY_STATS_PATH = "/stats";
export const HAPROXY_METRICS_PATH = "/metrics";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const HOST_RE = /^[A-Za-z0-9:][A-Za-z0-9_.:-]*$/;
const PATH_RE = /^\/[A-Za-z0-9._~/%-]*$/;
/** sun_path holds 108 bytes; HAProxy adds a temporary suffix while it binds. */
const SOCKET_RE = /^\/[A-Za-z0-9._~/+-]{1,99}$/;

/**
 * The HAProxy config for a lab's spec, with the given backend addresses (from the provider). Every
 * provider (local, LXD, OpenNebula) renders through here, so `lb.healthCheck` reaches each one.
 */
export function haproxyOptionsFromSpec(
  spec: LabSpec,
  backends: HaproxyBackendServer[],
  overrides: Partial<HaproxyConfigOptions> = {},
): HaproxyConfigOptions {
  const check = labHealthCheck(spec);
  return {
    labName: spec.name,
    bindAddress: "0.0.0.0",
    port: spec.lb.port,
    statsPort: spec.lb.statsPort,
    backends,
    checkIntervalMs: check.intervalMs,
    fall: check.fall,
    rise: check.rise,
    ...overrides,
  };
}

/**
 * Renders haproxy.cfg. Pure: the same options always give the same text, so a provider can tell
 * whether a running HAProxy already has the config it would write (compare hashes).
 */
export function renderHaproxyConfig(options: HaproxyConfigOptions): string {
  validateOptions(options);
  const t = { ...DEFAULT_HAPROXY_TIMEOUTS, ...options.timeouts };
  const healthPath = options.healthPath ?? "/health";
  const inter = options.checkIntervalMs ?? 1_000;
  const fall = options.fall ?? 2;
  const rise = options.rise ?? 1;
  const mode = options.servedByHeader ?? "if-missing";
  const bind = (port: number) => `${formatBindAddress(options.bindAddress)}:${port}`;
  const needsResolver = options.backends.some((b) => !isIpAddress(b.address));
  const proxy = sanitizeProxyName(options.labName);

  const lines: string[] = [
    `# HAProxy config for labgate lab "${options.labName}".`,
    "# Rendered by labgate; `labgate lab up` rewrites it. Edit the lab spec instead.",
    "global",
    // Logs go to stdout: the local provider redirects it to the lab's log file, systemd to the journal.
    "    log stdout format raw local0 info",
    `    maxconn ${options.maxconn ?? 4096}`,
    ...(options.statsSocket ? [`    stats socket ${options.statsSocket} mode 600 level admin`] : []),
    "",
    "defaults",
    "    mode http",
    "    log global",
    "    option httplog",
    "    option dontlognull",
    "    option forwardfor",
    // A request that hits a server which just died is retried on another one.
    "    option redispatch",
    "    retries 2",
    `    timeout connect ${t.connectMs}ms`,
    `    timeout client ${t.clientMs}ms`,
    `    timeout server ${t.serverMs}ms`,
    `    timeout http-request ${t.httpRequestMs}ms`,
    `    timeout http-keep-alive ${t.httpKeepAliveMs}ms`,
    `    timeout queue ${t.queueMs}ms`,
    `    timeout check ${t.checkMs}ms`,
    "",
    `frontend ${proxy}_http`,
    `    bind ${bind(options.port)}`,
    `    default_backend ${proxy}_apps`,
    "",
    `backend ${proxy}_apps`,
    "    balance roundrobin",
    // HTTP/1.1 needs a Host header; `http-check send` adds it to the request `option httpchk` defines.
    `    option httpchk GET ${healthPath} HTTP/1.1`,
    "    http-check send hdr Host labgate-check",
    "    http-check expect status 200",
  ];
  if (needsResolver) lines.push("    default-server init-addr last,libc,none");
  if (mode === "if-missing") {
    lines.push("    http-response set-header X-Served-By %[srv_name] if !{ res.hdr(X-Served-By) -m found }");
  } else if (mode === "always") {
    lines.push("    http-response set-header X-Served-By %[srv_name]");
  }
  for (const b of options.backends) {
    lines.push(
      `    server ${b.name} ${formatServerAddress(b.address)}:${b.port} check inter ${inter}ms fall ${fall} rise ${rise}`,
    );
  }
  lines.push("", `frontend ${proxy}_stats`, `    bind ${bind(options.statsPort)}`, "    no log");
  if (options.prometheus) {
    lines.push(`    http-request use-service prometheus-exporter if { path ${HAPROXY_METRICS_PATH} }`);
  }
  lines.push(
    "    stats enable",
    `    stats uri ${HAPROXY_STATS_PATH}`,
    "    stats refresh 5s",
    "    stats show-legends",
    "",
  );
  return lines.join("\n");

  function validateOptions(o: HaproxyConfigOptions): void {
    const bad = (field: string, message: string, cause?: unknown) =>
      new InvalidInputError("HAPROXY_OPTIONS_INVALID", `HAProxy config: ${field}: ${message}`, {
        hint: "Fix the lab spec (lb, apps) so the load balancer can be configured.",
        details: { field },
        cause,
      });
    if (o.backends.length === 0)
      throw bad("backends", "at least one app server is needed behind the load balancer");
    checkPort("port", o.port);
    checkPort("statsPort", o.statsPort);
    if (o.port === o.statsPort) throw bad("statsPort", `must differ from the LB port ${o.port}`);
    if (!HOST_RE.test(o.bindAddress)) throw bad("bindAddress", `"${o.bindAddress}" is not an address`);
    checkDottedQuad("bindAddress", o.bindAddress);
    if (o.statsSocket !== undefined && !SOCKET_RE.test(o.statsSocket)) {
      throw bad(
        "statsSocket",
        `"${o.statsSocket}" must be an absolute path of at most 100 characters without spaces`,
      );
    }
    if (o.healthPath !== undefined && !PATH_RE.test(o.healthPath)) {
      throw bad("healthPath", `"${o.healthPath}" must be an absolute path without spaces`);
    }
    const seen = new Set<string>();
    for (const [i, b] of o.backends.entries()) {
      if (!NAME_RE.test(b.name))
        throw bad(`backends[${i}].name`, `"${b.name}" may only use letters, digits, _ . : -`);
      if (seen.has(b.name)) throw bad(`backends[${i}].name`, `"${b.name}" is used twice`);
      seen.add(b.name);
      if (!HOST_RE.test(b.address)) throw bad(`backends[${i}].address`, `"${b.address}" is not an address`);
      checkDottedQuad(`backends[${i}].address`, b.address);
      checkPort(`backends[${i}].port`, b.port);
    }
    for (const [field, value] of [
      ["checkIntervalMs", o.checkIntervalMs],
      ["fall", o.fall],
      ["rise", o.rise],
      ["maxconn", o.maxconn],
    ] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0))
        throw bad(field, "must be a positive integer");
    }
    function checkPort(field: string, port: number): void {
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw bad(field, `${port} is not a TCP port (1-65535)`);
    }
    // Digits and dots only is meant as an IPv4 address, never a host name: HAProxy hands what
    // inet_pton refuses to libc, which reads 010.0.0.1 as octal (8.0.0.1) and fails on 256.1.1.1.
    function checkDottedQuad(field: string, address: string): void {
      if (!/^[0-9.]+$/.test(address)) return;
      try {
        parseIpv4(address);
      } catch (err) {
        throw bad(field, (err as Error).message, err);
      }
    }
  }
}

/** The backend proxy the lab's servers sit in (`set server <backend>/<server> ...`). */
export function haproxyBackendName(labName: string): string {
  return `${sanitizeProxyName(labName)}_apps`;
}

function sanitizeProxyName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, "_");
  return /^[A-Za-z]/.test(cleaned) ? cleaned : `lab_${cleaned}`;
}

function isIpAddress(address: string): boolean {
  return isValidIpv4(address) || address.includes(":");
}

function formatBindAddress(address: string): string {
  if (address === "0.0.0.0" || address === "*") return "";
  return address.includes(":") ? `[${address}]` : address;
}

function formatServerAddress(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}
