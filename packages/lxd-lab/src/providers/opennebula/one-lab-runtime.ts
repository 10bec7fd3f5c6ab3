import { homedir } from "node:os";
import { join } from "node:path";
import {
  type IpAllocation,
  IpPool,
  isLabgateError,
  LocalRunner,
  OpenNebulaClient,
  OpenNebulaError,
  PreconditionError,
  type Runner,
  SshRunner,
  type SshRunnerOptions,
  sleep,
} from "@labgate/core";
import type { LabStep, LabVerifyResult, StepContext } from "../../engine/step.js";
import type { PayloadFile } from "../../payload/sentiment-app.js";
import { formatRoundRobinReport, verifyRoundRobin } from "../../verify/round-robin.js";
import type { OneLabOptions } from "./one-lab-options.js";
import { oneIpRecord } from "./one-records.js";

const REACHABLE_TIMEOUT_MS = 60_000;

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
   * before the host is added; default: host-prep's hostPrepSteps. `runner` is lazy: no SSH at plan time.
   */
  hostPrepSteps?: (options: OneLabOptions, runner: (ctx: StepContext) => HostRunner) => LabStep[];
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
      this.#client = this.deps.client ? this.deps.client(this.options, ctx) : this.#newClient();
    }
    return this.#client;
  }

  #newClient(): OpenNebulaClient {
    try {
      return new OpenNebulaClient({ ...this.options.connection, onCall: (d) => this.#log?.(`  ${d}`) });
    } catch (error) {
      if (!this.options.sessionRedacted || !isLabgateError(error) || error.code !== "ONE_SESSION_MISSING")
        throw error;
      throw new OpenNebulaError(
        "ONE_SESSION_MISSING",
        "The OpenNebula session is not in the recorded lab spec: secrets are never written to state.json.",
        {
          exitCode: error.exitCode,
          hint: "Export ONE_SESSION=user:password (or ONE_AUTH=/path/to/one_auth, or set providerOptions.authFile) and run the command again.",
          cause: error,
        },
      );
    }
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

  /**
   * The injected runner, else a local runner for hostAccess local (labgate runs on the host), else an SSH
   * runner for providerOptions.ssh (host keys verified by core).
   */
  runner(): HostRunner | undefined {
    if (this.#runner) return this.#runner;
    if (this.deps.runner) this.#runner = this.deps.runner(this.options);
    else if (this.options.hostAccess === "local") this.#runner = new LocalRunner();
    else if (this.options.ssh) this.#runner = this.sshRunner();
    return this.#runner;
  }

  /** Whether commands on the host go over SSH with core's host-key checks (not an injected runner). */
  get usesSsh(): boolean {
    return this.options.ssh !== undefined && this.deps.runner === undefined;
  }

  /** The known_hosts file host keys are checked against and recorded in. */
  get knownHostsPath(): string {
    return this.options.ssh?.knownHostsPath ?? join(homedir(), ".ssh", "known_hosts");
  }

  /**
   * An SSH runner for providerOptions.ssh. `onUnknownHostKey` is the gate for a host not in known_hosts
   * (the key is recorded when it resolves true); without it an unknown host is refused.
   */
  sshRunner(onUnknownHostKey?: SshRunnerOptions["onUnknownHostKey"]): SshRunner {
    const s = this.options.ssh;
    if (!s)
      throw new PreconditionError(
        "ONE_NO_SSH",
        "This step needs SSH to the front-end, and providerOptions.ssh is not set.",
        {
          hint: "Set providerOptions.ssh (host, user, identity file) in the lab spec.",
        },
      );
    return new SshRunner({
      host: s.host,
      port: s.port,
      username: s.user,
      knownHostsPath: this.knownHostsPath,
      ...(s.privateKeyPath ? { privateKeyPath: s.privateKeyPath } : {}),
      ...(s.hostKeyFingerprints ? { hostKeyFingerprints: s.hostKeyFingerprints } : {}),
      ...(onUnknownHostKey ? { onUnknownHostKey } : {}),
    });
  }

  /**
   * Waits until oned answers again: host preparation may just have restarted OpenNebula, and oned takes a
   * moment to open its XML-RPC port after the process is back. Only "unreachable" is waited out.
   */
  async untilReachable(ctx: StepContext, timeoutMs = REACHABLE_TIMEOUT_MS): Promise<void> {
    const client = this.client(ctx);
    const deadline = Date.now() + timeoutMs;
    for (let said = false; ; said = true) {
      try {
        await client.version();
        return;
      } catch (error) {
        if (!isLabgateError(error) || error.code !== "ONE_UNREACHABLE" || Date.now() >= deadline) throw error;
        if (!said)
          ctx.log(`  OpenNebula does not answer yet (restarting?); retrying for ${timeoutMs / 1000} s`);
      }
      await sleep(Math.min(this.options.pollIntervalMs, 1_000), ctx.signal);
    }
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
      const { name, ip, netmask, gateway, dns } = oneIpRecord(r);
      out.set(name, { ip, netmask, gateway, dns });
    }
    return out;
  }
}
