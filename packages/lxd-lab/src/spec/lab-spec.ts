import type { LAB_PROVIDERS, LabSpecDocument } from "./lab-spec-schema.js";

/**
 * The lab spec as providers use it: what the user writes in lab.json / lab.yaml (described once in
 * lab-spec-schema.ts, with every field's meaning) with the defaults filled in. Everything a provider
 * needs to plan its steps comes from here, so `plan()` stays a pure function of the spec.
 */
export type ProviderName = (typeof LAB_PROVIDERS)[number];

type Document = NonNullable<LabSpecDocument>;

/** The lab network: subnet ("127.0.0.0/8" for the local provider), gateway, DNS, bridge/VNet name; no DHCP by default. */
export interface LabNetworkSpec extends Omit<NonNullable<Document["network"]>, "cidr" | "dhcp"> {
  cidr: string;
  /** On-prem lab networks have no DHCP: addresses come from the core IP pool. */
  dhcp: boolean;
}

/** The apps: how many (default 2), one port each (8000, 8001 ...), instances named `${namePrefix}${n}` ("app"). */
export type LabAppSpec = Required<NonNullable<Document["apps"]>>;

export interface LabLbSpec {
  /** Port HAProxy's frontend listens on (default 8080). */
  port: number;
  /** Port of the HAProxy stats/metrics endpoint (default 8404). */
  statsPort: number;
  /** Where the LB is exposed to the user: host address and port (LXD proxy device, port forward). */
  expose?: NonNullable<NonNullable<Document["lb"]>["expose"]>;
  name: string;
  /**
   * HAProxy's health checks of every app (YAML `healthCheck: {interval: "1s", fall: 2, rise: 1}`);
   * absent: labgate's defaults (1 s, fall 2, rise 1). A backend that stopped answering is taken out
   * after about interval × fall: the failover bench reports that as its "expected detection".
   */
  healthCheck?: LabHealthCheckSpec;
}

export interface LabHealthCheckSpec {
  /** `inter`: time between two checks of one server, in ms. */
  intervalMs: number;
  /** Consecutive failed checks before HAProxy marks a server DOWN. */
  fall: number;
  /** Consecutive good checks before a DOWN server is UP again. */
  rise: number;
}

/**
 * The final `bench` step: a short benchmark through the exposed LB against the spec's SLOs.
 * YAML/JSON: `bench: {duration: "5s", connections: 10, rate: 50, enabled: true}`.
 */
export interface LabBenchSpec {
  /** Measured window in ms (YAML `duration`, e.g. "5s"; default 5 s). */
  durationMs: number;
  /** Connections (closed loop), or the pool size at a constant rate (default 10). */
  connections: number;
  /** Requests per second; set: constant-rate (open loop) run, latency from the scheduled send. */
  rate?: number;
  /** false: the lab has no bench step (default true). */
  enabled?: boolean;
}

export interface LabSpec {
  /** Lab name; namespaces state, instances and networks. */
  name: string;
  provider: ProviderName;
  network: LabNetworkSpec;
  apps: LabAppSpec;
  lb: LabLbSpec;
  /** Image reference: LXD alias ("labgate/debian-bookworm"), OpenNebula image name, "ubuntu:22.04". */
  image: string;
  /** SLO expressions handed to the bench at the end (e.g. "p99<250ms"). */
  slos: string[];
  /** Settings of the final bench step (defaults: 5 s, 10 connections, closed loop). */
  bench?: Partial<LabBenchSpec>;
  /**
   * Faults for the failover check, in the `--fault` grammar ("stop app2 at 2s for 3s"), validated
   * against the apps and the bench duration. Set: `lab up` ends with a gated `failover` step, and
   * `labgate bench run --lab` injects them unless --fault is given.
   */
  faults?: string[];
  /** Provider-specific settings (LXD socket path, OpenNebula endpoint, SSH host ...). */
  providerOptions?: Record<string, unknown>;
}
