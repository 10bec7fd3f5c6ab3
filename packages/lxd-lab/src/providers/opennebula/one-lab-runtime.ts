import { type IpAllocation, IpPool, OpenNebulaClient, type Runner, SshRunner } from "@labgate/core";
import type { LabVerifyResult, Step, StepContext } from "../../engine/step.js";
import type { PayloadFile } from "../../payload/sentiment-app.js";
import { formatRoundRobinReport, verifyRoundRobin } from "../../verify/round-robin.js";
import type { OneLabOptions } from "./one-lab-options.js";

/** Commands on the OpenNebula host (exposure, host prep): core's Runner (SSH, or local on the host). */
export type HostRunner = Runner;

/** Where round robin is checked and what must answer. */
export interface VerifyTarget {
  url: string;
  expectedBackends: string[];
  requests?: number;
}

/** The address allocator: core's IpPool (allocate is idempotent per owner). */
export interface AddressPool {
  allocate(network: string, owner: string): Promise<IpAllocation>;
  release(by: { owner: string }): Promise<IpAllocation[]>;
}

/**
 * Seams of the provider. Everything defaults to the real thing (XML-RPC client, core IP pool, the
 * round-robin verifier over HTTP); tests replace only what cannot exist here, e.g. they point
 * verification at loopback because simulated VMs cannot serve HTTP.
 */
export interface OneLabDeps {
  client?: (options: OneLabOptions, ctx: StepContext) => OpenNebulaClient;
  addressPool?: (options: OneLabOptions) => AddressPool;
  /** Round-robin check; default sends real requests to target.url. */
  verify?: (target: VerifyTarget, ctx: StepContext) => Promise<LabVerifyResult>;
  /** Runner on the OpenNebula host (SSH); needed for exposure and host preparation. */
  runner?: (options: OneLabOptions) => HostRunner | undefined;
  /**
   * Host preparation steps (LXD installed, oneadmin in the lxd group, snap home fix ...) run
   * before the host is added; wire E1's host-prep builder here. `runner` is lazy: no SSH at plan time.
   */
  hostPrepSteps?: (options: OneLabOptions, runner: (ctx: StepContext) => HostRunner) => Step[];
  payloadFiles?: () => Promise<PayloadFile[]>;
}

export async function defaultVerify(target: VerifyTarget, ctx: StepContext): Promise<LabVerifyResult> {
  const report = await verifyRoundRobin({
    url: target.url,
    expectedBackends: target.expectedBackends,
    ...(target.requests ? { requests: target.requests } : {}),
    signal: ctx.signal,
  });
  return {
    passed: report.ok,
    summary: report.ok
      ? `round robin OK through ${target.url}: ${Object.entries(report.counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`
      : `round robin FAILED through ${target.url}: ${report.problems.join("; ")}`,
    lines: formatRoundRobinReport(report),
    data: report,
  };
}

/** Per-provider-instance state shared by the steps: one client, one address pool. */
export class OneLabRuntime {
  #client: OpenNebulaClient | undefined;
  #pool: AddressPool | undefined;
  constructor(
    readonly options: OneLabOptions,
    readonly deps: OneLabDeps,
  ) {}

  #log: ((message: string) => void) | undefined;

  /** One client per lab; its call log goes to whichever run (up, down, status) is current. */
  client(ctx: StepContext): OpenNebulaClient {
    this.#log = ctx.log;
    if (!this.#client) {
      this.#client = this.deps.client
        ? this.deps.client(this.options, ctx)
        : new OpenNebulaClient({ ...this.options.connection, onCall: (d) => this.#log?.(`  ${d}`) });
    }
    return this.#client;
  }

  pool(): AddressPool {
    if (!this.#pool) {
      this.#pool = this.deps.addressPool
        ? this.deps.addressPool(this.options)
        : new IpPool({
            ...(this.options.ipPoolConfig ? { configPath: this.options.ipPoolConfig } : {}),
            ...(this.options.ipPoolState ? { statePath: this.options.ipPoolState } : {}),
          });
    }
    return this.#pool;
  }

  #runner: HostRunner | undefined;

  /** The injected runner, else an SSH runner for providerOptions.ssh (host keys verified by core). */
  runner(): HostRunner | undefined {
    if (this.#runner) return this.#runner;
    if (this.deps.runner) this.#runner = this.deps.runner(this.options);
    else if (this.options.ssh) {
      const s = this.options.ssh;
      this.#runner = new SshRunner({
        host: s.host,
        port: s.port,
        username: s.user,
        ...(s.privateKeyPath ? { privateKeyPath: s.privateKeyPath } : {}),
        ...(s.hostKeyFingerprints ? { hostKeyFingerprints: s.hostKeyFingerprints } : {}),
        ...(s.knownHostsPath ? { knownHostsPath: s.knownHostsPath } : {}),
      });
    }
    return this.#runner;
  }

  waitOptions(ctx: StepContext, what: string) {
    return {
      intervalMs: this.options.pollIntervalMs,
      timeoutMs: this.options.waitTimeoutMs,
      signal: ctx.signal,
      onProgress: (state: string) => ctx.log(`  ${what}: ${state}`),
    };
  }

  /** The addresses the address step recorded: instance name → allocation. */
  addresses(ctx: StepContext): Map<string, { ip: string; netmask: string; gateway: string; dns: string[] }> {
    const out = new Map<string, { ip: string; netmask: string; gateway: string; dns: string[] }>();
    for (const r of ctx.resources("ip")) {
      const d = (r.data ?? {}) as Record<string, unknown>;
      if (typeof d.name === "string" && typeof d.ip === "string") {
        out.set(d.name, {
          ip: d.ip,
          netmask: String(d.netmask ?? ""),
          gateway: String(d.gateway ?? ""),
          dns: Array.isArray(d.dns) ? d.dns.map(String) : [],
        });
      }
    }
    return out;
  }
}
