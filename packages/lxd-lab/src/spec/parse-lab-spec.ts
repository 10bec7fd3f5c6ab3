import { BENCH_DEFAULTS, isFaultSlo } from "../bench-step/bench-settings.js";
import { LabSpecError } from "../errors.js";
import { LAB_SPEC_DEFAULTS } from "./default-lab-spec.js";
import { HEALTH_CHECK_DEFAULTS } from "./health-check.js";
import type {
  LabAppSpec,
  LabBenchSpec,
  LabHealthCheckSpec,
  LabLbSpec,
  LabNetworkSpec,
  LabSpec,
  ProviderName,
} from "./lab-spec.js";
import { durationMs, type LabSpecDocument, labSpecSchema, schemaProblems } from "./lab-spec-schema.js";
import { labAppNames, parseFaultList } from "./spec-faults.js";

export { BENCH_LIMITS } from "./lab-spec-schema.js";

type Doc = NonNullable<LabSpecDocument>;
type Fail = (field: string, message: string, hint?: string) => never;

/**
 * Validates a parsed lab.json / lab.yaml and fills in the defaults. Every problem names the file
 * and the field (`lab.yaml: apps.ports[1]: ...`) so it can be fixed without guessing. The schema
 * (lab-spec-schema.ts) checks each field; what follows checks fields against each other.
 */
export function parseLabSpec(raw: unknown, source: string): LabSpec {
  const fail: Fail = (field, message, hint) => {
    throw new LabSpecError(source, field, message, hint);
  };
  if (raw === null || raw === undefined)
    return fail("(document)", "the file is empty", 'Write a JSON/YAML object, e.g. {"provider": "local"}.');
  const parsed = labSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const [first] = schemaProblems(parsed.error);
    return fail(first?.field ?? "(document)", first?.message ?? parsed.error.message, first?.hint);
  }
  const top = parsed.data;
  const name = top.name ?? LAB_SPEC_DEFAULTS.name;
  const provider: ProviderName = top.provider ?? LAB_SPEC_DEFAULTS.provider;
  const network = labNetwork(top.network, provider, fail);
  const apps = labApps(top.apps, fail);
  const lb = labLb(top.lb, apps, fail);
  const image = top.image ?? LAB_SPEC_DEFAULTS.image;
  const slos = top.slos === undefined ? [...LAB_SPEC_DEFAULTS.slos] : top.slos.map((slo) => slo.trim());

  const spec: LabSpec = { name, provider, network, apps, lb, image, slos };
  if (top.bench !== undefined) spec.bench = labBench(top.bench);
  if (top.faults !== undefined) {
    // Checked against this spec's apps and bench: a fault the failover step could not run is refused now.
    spec.faults = parseFaultList(top.faults, "faults", fail, {
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
  if (top.providerOptions !== undefined) spec.providerOptions = top.providerOptions;
  return spec;
}

function labNetwork(doc: Doc["network"], provider: ProviderName, fail: Fail): LabNetworkSpec {
  if (doc === undefined) {
    if (provider === "local") return { cidr: LAB_SPEC_DEFAULTS.localCidr, dhcp: false };
    return fail(
      "network",
      `is required for provider "${provider}"`,
      'Add e.g. "network": {"cidr": "10.20.0.0/24"}.',
    );
  }
  const cidr = doc.cidr ?? (provider === "local" ? LAB_SPEC_DEFAULTS.localCidr : undefined);
  if (cidr === undefined) return fail("network.cidr", "is required", 'Add e.g. "cidr": "10.20.0.0/24".');
  const network: LabNetworkSpec = { cidr, dhcp: doc.dhcp ?? false };
  if (doc.gateway !== undefined) network.gateway = doc.gateway;
  if (doc.dns !== undefined) network.dns = doc.dns;
  if (doc.name !== undefined) network.name = doc.name;
  return network;
}

function labApps(doc: Doc["apps"], fail: Fail): LabAppSpec {
  const count = doc?.count;
  const ports =
    doc?.ports ??
    Array.from({ length: count ?? LAB_SPEC_DEFAULTS.appCount }, (_, i) => LAB_SPEC_DEFAULTS.firstAppPort + i);
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
  return { count: finalCount, ports, namePrefix: doc?.namePrefix ?? LAB_SPEC_DEFAULTS.namePrefix };
}

function labLb(doc: Doc["lb"], apps: LabAppSpec, fail: Fail): LabLbSpec {
  const port = doc?.port ?? LAB_SPEC_DEFAULTS.lbPort;
  const statsPort = doc?.statsPort ?? LAB_SPEC_DEFAULTS.statsPort;
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
  const lb: LabLbSpec = { port, statsPort, name: doc?.name ?? LAB_SPEC_DEFAULTS.lbName };
  if (doc?.expose !== undefined) lb.expose = { address: doc.expose.address, port: doc.expose.port };
  if (doc?.healthCheck !== undefined) lb.healthCheck = labHealthCheck(doc.healthCheck);
  return lb;
}

/** `lb.healthCheck: {interval: "1s", fall: 2, rise: 1}`: HAProxy's `inter`, `fall` and `rise` of every app. */
function labHealthCheck(doc: NonNullable<NonNullable<Doc["lb"]>["healthCheck"]>): LabHealthCheckSpec {
  const check: LabHealthCheckSpec = { ...HEALTH_CHECK_DEFAULTS };
  // The schema accepts only durations it can convert, so durationMs is defined here.
  if (doc.interval !== undefined) check.intervalMs = durationMs(doc.interval) ?? check.intervalMs;
  if (doc.fall !== undefined) check.fall = doc.fall;
  if (doc.rise !== undefined) check.rise = doc.rise;
  return check;
}

function labBench(doc: NonNullable<Doc["bench"]>): Partial<LabBenchSpec> {
  const bench: Partial<LabBenchSpec> = {};
  if (doc.duration !== undefined) {
    const ms = durationMs(doc.duration);
    if (ms !== undefined) bench.durationMs = ms;
  }
  if (doc.connections !== undefined) bench.connections = doc.connections;
  if (doc.rate !== undefined) bench.rate = doc.rate;
  if (doc.enabled !== undefined) bench.enabled = doc.enabled;
  return bench;
}
