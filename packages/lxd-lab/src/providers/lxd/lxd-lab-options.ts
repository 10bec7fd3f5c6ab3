import { formatIpv4, InvalidInputError, parseCidr, parseIpv4, type Subnet } from "@labgate/core";
import type { LabSpec } from "../../spec/lab-spec.js";
import { type OptionFinding, opts, readOptions } from "../provider-options.js";

/** How an instance gets its payload and address. */
export type PayloadMode = "auto" | "cloud-init" | "push";

/** Config key marking everything a lab created, so `down` removes that and nothing else. */
export const LAB_MARKER_KEY = "user.labgate.lab";
export const ROLE_KEY = "user.labgate.role";
/** Name of the proxy device that exposes the LB on the host. */
export const EXPOSE_DEVICE = "labgate-expose";
export const DEFAULT_LXD_IMAGE = "labgate/debian-bookworm";

export interface LxdInstancePlan {
  /** LXD instance name, `<lab>-<name>`: also the X-Served-By value and the HAProxy server name. */
  instance: string;
  role: "app" | "lb";
  /** Short name inside the lab: "app1", "lb". */
  name: string;
  /** App port (apps) or HAProxy frontend port (LB). */
  port: number;
}

/** Everything the LXD provider derives from a lab spec; pure, so `plan()` stays pure. */
export interface LxdLabOptions {
  lab: string;
  socketPath?: string;
  project?: string;
  storagePool: string;
  bridge: string;
  subnet: Subnet;
  gateway: string;
  dns: string[];
  /** Range the lab's own IP pool hands addresses out of. */
  addressPool: { start: string; end: string };
  image: string;
  payload: PayloadMode;
  apps: LxdInstancePlan[];
  lb: LxdInstancePlan;
  statsPort: number;
  expose: { address: string; port: number };
  /** Deadline for instance create/start and app readiness. */
  timeoutMs: number;
}

/** The LXD lab's providerOptions, read by the one provider-options reader. */
const LXD_OPTIONS = {
  socketPath: opts.string({ example: "socketPath: /var/snap/lxd/common/lxd/unix.socket" }),
  project: opts.string({ example: "project: default" }),
  storagePool: opts.stringOr("default", { example: "storagePool: default" }),
  addressPool: opts.object({
    start: opts.required(opts.string(), '"start": "10.20.0.30"'),
    end: opts.required(opts.string(), '"end": "10.20.0.60"'),
  }),
  payload: opts.oneOfOr(["auto", "cloud-init", "push"], "auto"),
  timeoutSeconds: opts.numberOr(180, { above: 0 }),
};

/**
 * Reads the spec plus `providerOptions` (socketPath, project, storagePool, addressPool {start,end},
 * payload "auto"|"cloud-init"|"push", timeoutSeconds) and fills in the defaults.
 */
export function lxdLabOptions(spec: LabSpec): LxdLabOptions {
  const { value: raw, findings } = readOptions(spec.providerOptions, LXD_OPTIONS);
  if (findings.length) refuse(findings);
  const subnet = parseCidr(spec.network.cidr);
  if (subnet.prefix > 28)
    bad("network.cidr", `${subnet.cidr} is too small for a lab; use a /24 (e.g. 10.20.0.0/24)`);
  const gateway = spec.network.gateway ?? formatIpv4(subnet.firstUsable);
  const bridge = spec.network.name ?? defaultBridgeName(spec.name);
  if (!/^[a-z][a-z0-9-]{0,14}$/.test(bridge)) {
    bad(
      "network.name",
      `"${bridge}" is not a usable bridge name (Linux allows 15 characters; use lowercase letters, digits, '-')`,
    );
  }

  const apps: LxdInstancePlan[] = Array.from({ length: spec.apps.count }, (_, i) => {
    const name = `${spec.apps.namePrefix}${i + 1}`;
    return {
      instance: instanceName(spec.name, name),
      role: "app",
      name,
      port: spec.apps.ports[i] ?? 8000 + i,
    };
  });
  const lb: LxdInstancePlan = {
    instance: instanceName(spec.name, spec.lb.name),
    role: "lb",
    name: spec.lb.name,
    port: spec.lb.port,
  };

  return {
    lab: spec.name,
    ...(raw.socketPath !== undefined ? { socketPath: raw.socketPath } : {}),
    ...(raw.project !== undefined ? { project: raw.project } : {}),
    storagePool: raw.storagePool,
    bridge,
    subnet,
    gateway,
    dns: spec.network.dns ?? [],
    addressPool: addressPool(raw.addressPool, subnet, gateway, apps.length + 1),
    image: spec.image,
    payload: raw.payload,
    apps,
    lb,
    statsPort: spec.lb.statsPort,
    expose: spec.lb.expose ?? { address: "127.0.0.1", port: spec.lb.port },
    timeoutMs: raw.timeoutSeconds * 1000,
  };
}

/** `lg-<lab>` cut to the 15 characters Linux allows for an interface name. */
export function defaultBridgeName(lab: string): string {
  return `lg-${lab}`.slice(0, 15).replace(/-+$/, "");
}

export function instanceName(lab: string, name: string): string {
  const full = `${lab}-${name}`;
  if (full.length > 63)
    bad("name", `instance name "${full}" is longer than LXD's 63 characters; shorten the lab name`);
  return full;
}

/** Default pool: .30–.60 of the subnet (clear of the gateway and of hand-set hosts at the bottom). */
function addressPool(
  given: { start: string; end: string } | undefined,
  subnet: Subnet,
  gateway: string,
  needed: number,
): { start: string; end: string } {
  if (given !== undefined) return given;
  const gw = parseIpv4(gateway);
  let start = subnet.network + 30;
  let end = Math.min(subnet.network + 60, subnet.lastUsable);
  if (end - start + 1 < needed) {
    start = subnet.firstUsable;
    end = subnet.lastUsable;
  }
  if (gw >= start && gw <= end) start = gw + 1;
  return { start: formatIpv4(start), end: formatIpv4(end) };
}

/** Every providerOptions problem at once, each with its field; the first one's field in details, as bad() does. */
function refuse(findings: OptionFinding[]): never {
  throw new InvalidInputError(
    "LXD_LAB_OPTIONS_INVALID",
    `LXD lab: ${findings.map((f) => `${f.field}: ${f.problem}`).join("; ")}.`,
    {
      hint: `${findings.map((f) => f.fix).join(" ")} \`labgate lab plan\` shows the result without touching anything.`,
      details: { field: findings[0]?.field, findings },
    },
  );
}

function bad(field: string, message: string): never {
  throw new InvalidInputError("LXD_LAB_OPTIONS_INVALID", `LXD lab: ${field}: ${message}.`, {
    hint: "Fix the lab spec (lab.json / lab.yaml); `labgate lab plan` shows the result without touching anything.",
    details: { field },
  });
}
