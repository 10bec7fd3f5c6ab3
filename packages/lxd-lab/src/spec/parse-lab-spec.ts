import { isIPv4 } from "node:net";
import { parseSlo } from "@labgate/bench";
import { BENCH_DEFAULTS, isFaultSlo } from "../bench-step/bench-settings.js";
import { LabSpecError } from "../errors.js";
import { LAB_SPEC_DEFAULTS } from "./default-lab-spec.js";
import { HEALTH_CHECK_DEFAULTS, HEALTH_CHECK_LIMITS } from "./health-check.js";
import type {
  LabAppSpec,
  LabBenchSpec,
  LabHealthCheckSpec,
  LabLbSpec,
  LabNetworkSpec,
  LabSpec,
  ProviderName,
} from "./lab-spec.js";
import { labAppNames, parseFaultList } from "./spec-faults.js";

const PROVIDERS: readonly ProviderName[] = ["local", "lxd", "opennebula"];
const TOP_KEYS = [
  "name",
  "provider",
  "network",
  "apps",
  "lb",
  "image",
  "slos",
  "bench",
  "faults",
  "providerOptions",
  "$schema",
];
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

type Raw = Record<string, unknown>;

/**
 * Validates a parsed lab.json / lab.yaml and fills in the defaults. Every problem names the file
 * and the field (`lab.yaml: apps.ports[1]: ...`) so it can be fixed without guessing.
 */
export function parseLabSpec(raw: unknown, source: string): LabSpec {
  const fail = (field: string, message: string, hint?: string): never => {
    throw new LabSpecError(source, field, message, hint);
  };
  if (raw === null || raw === undefined)
    return fail("(document)", "the file is empty", 'Write a JSON/YAML object, e.g. {"provider": "local"}.');
  const top = asObject(raw, "(document)", fail);
  for (const key of Object.keys(top)) {
    if (!TOP_KEYS.includes(key))
      fail(key, "unknown field", `Known fields: ${TOP_KEYS.filter((k) => k !== "$schema").join(", ")}.`);
  }

  const name = optionalString(top, "name", fail) ?? LAB_SPEC_DEFAULTS.name;
  if (!NAME_RE.test(name)) {
    fail(
      "name",
      `"${name}" is not a valid lab name`,
      "Use 1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit.",
    );
  }
  const provider = (optionalString(top, "provider", fail) ?? LAB_SPEC_DEFAULTS.provider) as ProviderName;
  if (!PROVIDERS.includes(provider))
    fail("provider", `"${provider}" is not a known provider`, `Use one of: ${PROVIDERS.join(", ")}.`);

  const network = parseNetwork(top["network"], provider, fail);
  const apps = parseApps(top["apps"], fail);
  const lb = parseLb(top["lb"], apps, fail);
  const image = optionalString(top, "image", fail) ?? LAB_SPEC_DEFAULTS.image;
  if (!image.trim()) fail("image", "must not be empty");
  const slos = parseSlos(top["slos"], fail);

  const spec: LabSpec = { name, provider, network, apps, lb, image, slos };
  if (top["bench"] !== undefined) spec.bench = parseBench(top["bench"], fail);
  if (top["faults"] !== undefined) {
    // Checked against this spec's apps and bench: a fault the failover step could not run is refused now.
    spec.faults = parseFaultList(top["faults"], "faults", fail, {
      backends: labAppNames(apps),
      runMs: spec.bench?.durationMs ?? BENCH_DEFAULTS.durationMs,
      runField: "bench.duration",
    });
  }
  const faultSlo = slos.findIndex(isFaultSlo);
  if (faultSlo >= 0 && !spec.faults?.length) {
    fail(
      `slos[${faultSlo}]`,
      `"${slos[faultSlo]}" is measured in fault windows, and the spec has no faults`,
      'Add faults: (e.g. ["stop app2 at 2s for 3s"]) for the failover check, or remove this SLO.',
    );
  }
  if (top["providerOptions"] !== undefined)
    spec.providerOptions = asObject(top["providerOptions"], "providerOptions", fail);
  return spec;
}

type Fail = (field: string, message: string, hint?: string) => never;

function parseNetwork(value: unknown, provider: ProviderName, fail: Fail): LabNetworkSpec {
  if (value === undefined) {
    if (provider === "local") return { cidr: LAB_SPEC_DEFAULTS.localCidr, dhcp: false };
    return fail(
      "network",
      `is required for provider "${provider}"`,
      'Add e.g. "network": {"cidr": "10.20.0.0/24"}.',
    );
  }
  const raw = asObject(value, "network", fail);
  allowOnly(raw, "network", ["cidr", "gateway", "dns", "dhcp", "name"], fail);
  const cidr =
    optionalString(raw, "cidr", fail, "network.") ??
    (provider === "local" ? LAB_SPEC_DEFAULTS.localCidr : undefined);
  if (cidr === undefined) return fail("network.cidr", "is required", 'Add e.g. "cidr": "10.20.0.0/24".');
  const [address, prefixText, extra] = cidr.split("/");
  const prefix = Number(prefixText);
  if (
    extra !== undefined ||
    !address ||
    !isIPv4(address) ||
    !/^\d{1,2}$/.test(prefixText ?? "") ||
    prefix > 32
  ) {
    fail("network.cidr", `"${cidr}" is not an IPv4 subnet in CIDR form`, 'Write it like "10.20.0.0/24".');
  }
  const network: LabNetworkSpec = { cidr, dhcp: false };
  const gateway = optionalString(raw, "gateway", fail, "network.");
  if (gateway !== undefined) {
    if (!isIPv4(gateway)) fail("network.gateway", `"${gateway}" is not an IPv4 address`);
    network.gateway = gateway;
  }
  if (raw["dns"] !== undefined) {
    if (!Array.isArray(raw["dns"])) fail("network.dns", "must be a list of IPv4 addresses");
    network.dns = (raw["dns"] as unknown[]).map((entry, i) => {
      if (typeof entry !== "string" || !isIPv4(entry))
        return fail(`network.dns[${i}]`, `${JSON.stringify(entry)} is not an IPv4 address`);
      return entry;
    });
  }
  if (raw["dhcp"] !== undefined) {
    if (typeof raw["dhcp"] !== "boolean") fail("network.dhcp", "must be true or false");
    network.dhcp = raw["dhcp"] as boolean;
  }
  const netName = optionalString(raw, "name", fail, "network.");
  if (netName !== undefined) network.name = netName;
  return network;
}

function parseApps(value: unknown, fail: Fail): LabAppSpec {
  const raw = value === undefined ? {} : asObject(value, "apps", fail);
  allowOnly(raw, "apps", ["count", "ports", "namePrefix"], fail);
  const count = raw["count"] === undefined ? undefined : integer(raw["count"], "apps.count", 1, 64, fail);
  let ports: number[];
  if (raw["ports"] === undefined) {
    const n = count ?? LAB_SPEC_DEFAULTS.appCount;
    ports = Array.from({ length: n }, (_, i) => LAB_SPEC_DEFAULTS.firstAppPort + i);
  } else {
    if (!Array.isArray(raw["ports"]) || raw["ports"].length === 0)
      return fail("apps.ports", "must be a non-empty list of port numbers");
    ports = (raw["ports"] as unknown[]).map((p, i) => integer(p, `apps.ports[${i}]`, 1, 65535, fail));
  }
  const finalCount = count ?? ports.length;
  if (ports.length !== finalCount) {
    fail(
      "apps.ports",
      `lists ${ports.length} port(s) but apps.count is ${finalCount}`,
      "Give one port per app instance, or leave apps.ports out to use 8000, 8001, ...",
    );
  }
  const seen = new Set<number>();
  ports.forEach((p, i) => {
    if (seen.has(p)) fail(`apps.ports[${i}]`, `port ${p} is listed twice`);
    seen.add(p);
  });
  const namePrefix = optionalString(raw, "namePrefix", fail, "apps.") ?? LAB_SPEC_DEFAULTS.namePrefix;
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(namePrefix)) {
    fail(
      "apps.namePrefix",
      `"${namePrefix}" is not a valid instance name prefix`,
      "Use lowercase letters, digits and dashes, starting with a letter.",
    );
  }
  return { count: finalCount, ports, namePrefix };
}

function parseLb(value: unknown, apps: LabAppSpec, fail: Fail): LabLbSpec {
  const raw = value === undefined ? {} : asObject(value, "lb", fail);
  allowOnly(raw, "lb", ["port", "statsPort", "expose", "name", "healthCheck"], fail);
  const port =
    raw["port"] === undefined ? LAB_SPEC_DEFAULTS.lbPort : integer(raw["port"], "lb.port", 1, 65535, fail);
  const statsPort =
    raw["statsPort"] === undefined
      ? LAB_SPEC_DEFAULTS.statsPort
      : integer(raw["statsPort"], "lb.statsPort", 1, 65535, fail);
  if (statsPort === port) fail("lb.statsPort", `must differ from lb.port (both are ${port})`);
  for (const [field, p] of [
    ["lb.port", port],
    ["lb.statsPort", statsPort],
  ] as const) {
    if (apps.ports.includes(p))
      fail(
        field,
        `port ${p} is also an app port (apps.ports)`,
        "Every app and the load balancer need their own port.",
      );
  }
  const name = optionalString(raw, "name", fail, "lb.") ?? LAB_SPEC_DEFAULTS.lbName;
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) fail("lb.name", `"${name}" is not a valid instance name`);
  const lb: LabLbSpec = { port, statsPort, name };
  if (raw["expose"] !== undefined) {
    const expose = asObject(raw["expose"], "lb.expose", fail);
    allowOnly(expose, "lb.expose", ["address", "port"], fail);
    const address = expose["address"];
    if (typeof address !== "string" || !isIPv4(address))
      fail("lb.expose.address", `${JSON.stringify(address)} is not an IPv4 address`);
    lb.expose = {
      address: address as string,
      port: integer(expose["port"], "lb.expose.port", 1, 65535, fail),
    };
  }
  if (raw["healthCheck"] !== undefined) lb.healthCheck = parseHealthCheck(raw["healthCheck"], fail);
  return lb;
}

/** `lb.healthCheck: {interval: "1s", fall: 2, rise: 1}`: HAProxy's `inter`, `fall` and `rise` of every app. */
function parseHealthCheck(value: unknown, fail: Fail): LabHealthCheckSpec {
  const raw = asObject(value, "lb.healthCheck", fail);
  allowOnly(raw, "lb.healthCheck", ["interval", "fall", "rise"], fail);
  const { minIntervalMs, maxIntervalMs, maxFall, maxRise } = HEALTH_CHECK_LIMITS;
  const check: LabHealthCheckSpec = { ...HEALTH_CHECK_DEFAULTS };
  if (raw["interval"] !== undefined) {
    const ms = typeof raw["interval"] === "string" ? durationMs(raw["interval"]) : undefined;
    if (ms === undefined)
      fail(
        "lb.healthCheck.interval",
        `${describe(raw["interval"])} is not a duration`,
        'Write it with a unit, like "1s" or "200ms" (HAProxy\'s `inter`).',
      );
    if (ms! < minIntervalMs || ms! > maxIntervalMs)
      fail(
        "lb.healthCheck.interval",
        `${describe(raw["interval"])} is outside 100ms to 1m`,
        'Checks faster than 100ms load the apps more than the bench; use e.g. "200ms" for quick failover, "1s" by default.',
      );
    check.intervalMs = ms!;
  }
  if (raw["fall"] !== undefined) check.fall = integer(raw["fall"], "lb.healthCheck.fall", 1, maxFall, fail);
  if (raw["rise"] !== undefined) check.rise = integer(raw["rise"], "lb.healthCheck.rise", 1, maxRise, fail);
  return check;
}

function parseSlos(value: unknown, fail: Fail): string[] {
  if (value === undefined) return [...LAB_SPEC_DEFAULTS.slos];
  if (!Array.isArray(value))
    return fail("slos", 'must be a list of SLO expressions, e.g. ["p99<250ms", "errors<1%"]');
  return value.map((entry, i) => {
    if (typeof entry !== "string" || !entry.trim())
      return fail(
        `slos[${i}]`,
        `${JSON.stringify(entry)} is not an SLO expression`,
        'Write it like "p99<250ms".',
      );
    // The final bench step evaluates them: a typo is reported now, not after the lab is built.
    try {
      parseSlo(entry);
    } catch (error) {
      return fail(`slos[${i}]`, (error as Error).message, (error as { hint?: string }).hint);
    }
    return entry.trim();
  });
}

/** Bounds keep the final step short and the load sane for a lab: it is a check, not a soak test. */
export const BENCH_LIMITS = {
  minDurationMs: 1_000,
  maxDurationMs: 600_000,
  maxConnections: 1_000,
  maxRate: 100_000,
} as const;

function parseBench(value: unknown, fail: Fail): Partial<LabBenchSpec> {
  const raw = asObject(value, "bench", fail);
  allowOnly(raw, "bench", ["duration", "connections", "rate", "enabled"], fail);
  const bench: Partial<LabBenchSpec> = {};
  if (raw["duration"] !== undefined) {
    const ms = durationMs(raw["duration"]);
    if (ms === undefined)
      fail(
        "bench.duration",
        `${describe(raw["duration"])} is not a duration`,
        'Write it like "5s", "500ms" or "2m".',
      );
    if (ms! < BENCH_LIMITS.minDurationMs || ms! > BENCH_LIMITS.maxDurationMs)
      fail(
        "bench.duration",
        `${describe(raw["duration"])} is outside 1s to 10m`,
        'The final bench is a short check; use e.g. "5s".',
      );
    bench.durationMs = ms!;
  }
  if (raw["connections"] !== undefined)
    bench.connections = integer(
      raw["connections"],
      "bench.connections",
      1,
      BENCH_LIMITS.maxConnections,
      fail,
    );
  if (raw["rate"] !== undefined) {
    const rate = raw["rate"];
    if (typeof rate !== "number" || !Number.isFinite(rate) || rate <= 0 || rate > BENCH_LIMITS.maxRate)
      fail(
        "bench.rate",
        `must be a number of requests per second above 0 and at most ${BENCH_LIMITS.maxRate}, got ${describe(rate)}`,
        "Leave it out for a closed-loop run.",
      );
    bench.rate = rate as number;
  }
  if (raw["enabled"] !== undefined) {
    if (typeof raw["enabled"] !== "boolean") fail("bench.enabled", "must be true or false");
    bench.enabled = raw["enabled"] as boolean;
  }
  return bench;
}

/** "5s", "500ms", "2m", "1m30s" or a number of seconds. */
function durationMs(value: unknown): number | undefined {
  if (typeof value === "number")
    return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(m[1]) * (unit[m[2] ?? "s"] ?? 0);
  return Math.round(total);
}

function asObject(value: unknown, field: string, fail: Fail): Raw {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(field, `must be an object, got ${describe(value)}`);
  }
  return value as Raw;
}

function allowOnly(raw: Raw, field: string, keys: readonly string[], fail: Fail): void {
  for (const key of Object.keys(raw)) {
    if (!keys.includes(key))
      fail(`${field}.${key}`, "unknown field", `Known fields of ${field}: ${keys.join(", ")}.`);
  }
}

function optionalString(raw: Raw, key: string, fail: Fail, prefix = ""): string | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") return fail(`${prefix}${key}`, `must be a string, got ${describe(value)}`);
  return value;
}

function integer(value: unknown, field: string, min: number, max: number, fail: Fail): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    return fail(field, `must be a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value);
}
