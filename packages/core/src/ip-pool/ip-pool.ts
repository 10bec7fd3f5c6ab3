import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { IpPoolRequestError } from "../errors.js";
import { removeOrphanTempFiles } from "../fs/atomic-write.js";
import { withFileLock } from "../fs/file-lock.js";
import { resolveStatePath } from "../fs/real-path.js";
import {
  type LedgerChange,
  type PlanContext,
  planAllocation,
  planConflict,
  planRelease,
  planReservation,
} from "./allocator.js";
import {
  type AuditLogRead,
  appendAuditEntries,
  auditEntriesFor,
  auditLogPath,
  readAuditLog,
} from "./audit-log.js";
import { loadIpPoolConfig, validateIpPoolConfig } from "./config.js";
import { formatIpv4, parseIpv4 } from "./ipv4.js";
import { type IpLedger, readLedger, writeLedger } from "./ledger.js";
import { assertLedgerMatchesConfig } from "./ledger-config-check.js";
import { resolveNetwork } from "./network-view.js";
import { defaultIpPoolStatePath, resolveIpPoolConfigPath } from "./paths.js";
import { type AddressProbe, probePlan, systemProbe } from "./probe.js";
import { type PlatformAddress, type ReconcileReport, reconcile } from "./reconcile.js";
import type { IpAllocation, IpConflict, IpPoolConfig, IpPoolOptions, IpReleaseSelector } from "./types.js";

const IN_MEMORY = "(in-memory IP pool config)";

/** A pool address that answered `labgate ip probe`, and what the ledger says about it. */
export interface NetworkProbeAnswer {
  ip: string;
  via: "arp" | "ping";
  mac?: string;
  /** The owner the ledger records it for, "conflict" when a probe already found it, "no" when the ledger has it free. */
  recorded: { owner: string } | "conflict" | "no";
}

export interface IpChangeOptions {
  /** Decide against the current ledger but take no lock, send no probe and write nothing (for --dry-run). */
  dryRun?: boolean;
  /** allocate only: probe each candidate on the wire first (default: the pool's `probe` option). */
  probe?: boolean;
  /** The command the audit log records (default: the operation, e.g. "allocate"). */
  command?: string;
}

/**
 * Static IPv4 addresses for subnets without DHCP. Every change reads the ledger, decides and writes
 * it back atomically while holding an inter-process lock, so concurrent processes never hand out
 * the same address; a lock left by a killed process is broken automatically.
 */
export class IpPool {
  readonly configPath: string | undefined;
  readonly statePath: string;
  private readonly inlineConfig: IpPoolConfig | undefined;
  private readonly lockTimeoutMs: number | undefined;
  private readonly prober: AddressProbe | undefined;

  constructor(opts: IpPoolOptions = {}) {
    this.inlineConfig = opts.config;
    this.lockTimeoutMs = opts.lockTimeoutMs;
    this.prober = typeof opts.probe === "function" ? opts.probe : opts.probe ? systemProbe() : undefined;
    if (opts.config !== undefined && opts.configPath === undefined) {
      if (opts.statePath === undefined) {
        throw new IpPoolRequestError(
          "STATE_PATH_REQUIRED",
          "An in-memory IP pool config needs a statePath for its ledger.",
          {
            hint: "Pass statePath (a JSON file; its directory is created if missing).",
          },
        );
      }
      this.configPath = undefined;
      this.statePath = resolve(opts.statePath);
    } else {
      this.configPath = resolveIpPoolConfigPath(opts.configPath);
      this.statePath =
        opts.statePath === undefined ? defaultIpPoolStatePath(this.configPath) : resolve(opts.statePath);
    }
  }

  /** The validated config (re-read on every call so edits take effect without a restart). */
  async config(): Promise<IpPoolConfig> {
    if (this.inlineConfig !== undefined) return validateIpPoolConfig(this.inlineConfig, IN_MEMORY);
    return loadIpPoolConfig(this.configPath as string);
  }

  async allocate(network: string, owner: string): Promise<IpAllocation> {
    return (await this.allocateDetailed(network, owner)).allocation;
  }

  /**
   * Like allocate(), and says whether the address is new or the owner already held it, and which
   * candidates answered a probe (recorded as conflicts and skipped).
   * With dryRun, shows what allocate would return without probing, locking or writing anything.
   */
  async allocateDetailed(
    network: string,
    owner: string,
    options: IpChangeOptions = {},
  ): Promise<{ allocation: IpAllocation; created: boolean; conflicts: IpConflict[] }> {
    const prober =
      options.probe === false ? undefined : (this.prober ?? (options.probe ? systemProbe() : undefined));
    const { result, changed, conflicts } = await this.change(
      options.command ?? "allocate",
      (ctx) => planAllocation(ctx, network, owner),
      options,
      prober === undefined ? undefined : (allocation, config) => probeCandidate(prober, allocation, config),
    );
    return { allocation: result, created: changed, conflicts };
  }

  async release(by: IpReleaseSelector, options: IpChangeOptions = {}): Promise<IpAllocation[]> {
    return (await this.change(options.command ?? "release", (ctx) => planRelease(ctx, by), options)).result;
  }

  /** Holds `ip` out of use; `network` is needed only when the address is outside every configured network. */
  async reserve(ip: string, owner: string, network?: string): Promise<IpAllocation> {
    return (await this.reserveDetailed(ip, owner, network)).allocation;
  }

  async reserveDetailed(
    ip: string,
    owner: string,
    network?: string,
    options: IpChangeOptions = {},
  ): Promise<{ allocation: IpAllocation; created: boolean }> {
    const { result, changed } = await this.change(
      options.command ?? "reserve",
      (ctx) => planReservation(ctx, ip, owner, network),
      options,
    );
    return { allocation: result, created: changed };
  }

  /** Every recorded address, lowest first, after checking the ledger against the config. */
  async list(): Promise<IpAllocation[]> {
    return (await this.snapshot()).allocations;
  }

  /** The whole ledger (allocations and conflicts), checked against the config. Reads without the lock: writes are atomic renames. */
  async snapshot(): Promise<{ allocations: IpAllocation[]; conflicts: IpConflict[] }> {
    const config = await this.config();
    const path = await resolveStatePath(this.statePath);
    const ledger = await readLedger(path);
    assertLedgerMatchesConfig(ledger, config, path);
    const byAddress = (a: { ip: string }, b: { ip: string }) => parseIpv4(a.ip) - parseIpv4(b.ip);
    return {
      allocations: [...ledger.allocations].sort(byAddress),
      conflicts: [...(ledger.conflicts ?? [])].sort(byAddress),
    };
  }

  /**
   * Probes every pool address of a network (read-only: nothing is recorded) and says what answered
   * and what the ledger knows about it. `method` overrides the config's probe method.
   */
  async probeNetwork(
    network: string,
    options: { method?: "arp" | "ping"; probe?: AddressProbe; concurrency?: number } = {},
  ): Promise<{ network: string; method: "arp" | "ping"; probed: number; answers: NetworkProbeAnswer[] }> {
    const config = await this.config();
    const view = resolveNetwork(config, network, this.configPath ?? IN_MEMORY);
    if (view.pools.length === 0) {
      throw new IpPoolRequestError("NO_POOLS", `${view.subnet.cidr} has no pools to probe.`, {
        hint: "Add pools to the network in the IP pool config, or give a network that has them.",
        details: { network: view.subnet.cidr },
      });
    }
    const how = probePlan(view.subnet.cidr, options.method ?? view.configured?.probe ?? config.probe);
    if (how.method === "none") {
      throw new IpPoolRequestError(
        "PROBE_DISABLED",
        `Probing is switched off for ${view.subnet.cidr} ("probe": "none").`,
        {
          hint: "Pass --method arp or --method ping to probe it anyway.",
          details: { network: view.subnet.cidr },
        },
      );
    }
    const method = how.method;
    const { allocations, conflicts } = await this.snapshot();
    const prober = options.probe ?? this.prober ?? systemProbe();
    const addresses = view.pools.flatMap(([start, end]) =>
      Array.from({ length: end - start + 1 }, (_, i) => start + i),
    );
    const answers: NetworkProbeAnswer[] = [];
    let next = 0;
    const worker = async () => {
      while (next < addresses.length) {
        const ip = formatIpv4(addresses[next++] as number);
        const answer = await prober({
          ip,
          network: view.subnet.cidr,
          method,
          ...(how.interface === undefined ? {} : { interface: how.interface }),
        });
        if (!answer) continue;
        const holder = allocations.find((a) => a.ip === ip);
        const conflict = conflicts.find((c) => c.ip === ip);
        answers.push({
          ip,
          via: answer.via,
          ...(answer.mac === undefined ? {} : { mac: answer.mac }),
          recorded: holder ? { owner: holder.owner } : conflict ? "conflict" : "no",
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, addresses.length) }, worker));
    answers.sort((a, b) => parseIpv4(a.ip) - parseIpv4(b.ip));
    return { network: view.subnet.cidr, method, probed: addresses.length, answers };
  }

  /**
   * Compares the ledger with the addresses a platform uses (see lxdAddresses, localAddresses) on
   * `networks` (default: every configured network and every network the ledger holds addresses on).
   * With fix, under the lock and against the ledger as it is then: leaked addresses are released and
   * unknown ones reserved for their holder; mismatched owners are only reported (a person decides).
   */
  async reconcile(
    used: PlatformAddress[],
    options: { networks?: string[]; fix?: boolean; command?: string } = {},
  ): Promise<{ report: ReconcileReport; fixed: boolean }> {
    const scope = (ledger: IpLedger, config: IpPoolConfig) =>
      options.networks?.map((n) => resolveNetwork(config, n, this.configPath ?? IN_MEMORY).subnet.cidr) ??
      defaultScope(ledger, config);
    if (!options.fix) {
      const config = await this.config();
      const path = await resolveStatePath(this.statePath);
      const ledger = await readLedger(path);
      assertLedgerMatchesConfig(ledger, config, path);
      return { report: reconcile(ledger, used, scope(ledger, config)), fixed: false };
    }
    let report: ReconcileReport | undefined;
    const { changed } = await this.change(
      options.command ?? "reconcile-fix",
      (ctx) => {
        report = reconcile(ctx.ledger, used, scope(ctx.ledger, ctx.config));
        return planReconcileFix(ctx, report);
      },
      {},
    );
    return { report: report as ReconcileReport, fixed: changed };
  }

  /** The audit log beside the ledger: every change, one JSON line each. */
  async auditLog(): Promise<AuditLogRead & { path: string }> {
    const path = auditLogPath(await resolveStatePath(this.statePath));
    return { path, ...(await readAuditLog(path)) };
  }

  /**
   * Applies the plan under the ledger lock: read, check against the config, decide, (probe the
   * candidate; an answer is recorded as a conflict and the plan decides again), write, audit.
   */
  private async change<T>(
    command: string,
    plan: (ctx: PlanContext) => LedgerChange<T>,
    options: IpChangeOptions,
    probe?: (result: T, config: IpPoolConfig) => Promise<IpConflict | undefined>,
  ): Promise<{ result: T; changed: boolean; conflicts: IpConflict[] }> {
    // Config errors surface before any lock is taken or file touched.
    const config = await this.config();
    const configSource = this.configPath ?? IN_MEMORY;
    // Lock, write and audit where the ledger really is: through a symlink, the rename would replace
    // the link and the lock would guard another name than a writer using the real path takes.
    const path = await resolveStatePath(this.statePath);
    const now = new Date();
    const context = (ledger: IpLedger): PlanContext => ({
      config,
      configSource,
      stateSource: path,
      ledger,
      now,
    });
    const load = async () => {
      const ledger = await readLedger(path);
      assertLedgerMatchesConfig(ledger, config, path);
      return ledger;
    };
    if (options.dryRun) {
      const { result, ledger: next } = plan(context(await load()));
      return { result, changed: next !== undefined, conflicts: [] };
    }
    // The lock file lives beside the ledger, so its directory must exist before the lock is taken.
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return withFileLock(
      path,
      async () => {
        // A writer killed between its temp file and the rename left that temp file; nobody else will.
        await removeOrphanTempFiles(path);
        const before = await load();
        const persist = async (after: IpLedger) => {
          await holdLockForTests();
          await writeLedger(path, after);
          await appendAuditEntries(auditLogPath(path), auditEntriesFor(before, after, command, new Date()));
        };
        let ledger = before;
        const conflicts: IpConflict[] = [];
        for (;;) {
          let decision: LedgerChange<T>;
          try {
            decision = plan(context(ledger));
          } catch (error) {
            // What the probes found stays true even when no address is left.
            if (conflicts.length > 0) await persist(ledger);
            throw error;
          }
          const found = decision.ledger && probe ? await probe(decision.result, config) : undefined;
          if (found) {
            conflicts.push(found);
            ledger = planConflict(context(ledger), found).ledger as IpLedger;
            continue;
          }
          const next = decision.ledger ?? (conflicts.length > 0 ? ledger : undefined);
          if (next) await persist(next);
          return { result: decision.result, changed: decision.ledger !== undefined, conflicts };
        }
      },
      this.lockTimeoutMs === undefined ? {} : { timeoutMs: this.lockTimeoutMs },
    );
  }
}

function defaultScope(ledger: IpLedger, config: IpPoolConfig): string[] {
  return [...new Set([...config.networks.map((n) => n.cidr), ...ledger.allocations.map((a) => a.network)])];
}

/** Releases the leaked addresses and reserves each unknown one for the holder that uses it. */
function planReconcileFix(ctx: PlanContext, report: ReconcileReport): LedgerChange<undefined> {
  const leaked = new Set(report.leaked.map((a) => a.ip));
  let ledger: IpLedger = {
    ...ctx.ledger,
    allocations: ctx.ledger.allocations.filter((a) => !leaked.has(a.ip)),
  };
  for (const u of report.unknown) {
    const next = planReservation({ ...ctx, ledger }, u.ip, u.holder, u.network).ledger;
    if (next) ledger = next;
  }
  const changed = leaked.size > 0 || report.unknown.length > 0;
  return { result: undefined, ledger: changed ? ledger : undefined };
}

async function probeCandidate(
  prober: AddressProbe,
  allocation: IpAllocation,
  config: IpPoolConfig,
): Promise<IpConflict | undefined> {
  const configured = config.networks.find((n) => n.cidr === allocation.network)?.probe ?? config.probe;
  const how = probePlan(allocation.network, configured);
  if (how.method === "none") return undefined;
  const answer = await prober({
    ip: allocation.ip,
    network: allocation.network,
    method: how.method,
    ...(how.interface === undefined ? {} : { interface: how.interface }),
  });
  if (answer === undefined) return undefined;
  return {
    ip: allocation.ip,
    network: allocation.network,
    via: answer.via,
    ...(answer.mac === undefined ? {} : { mac: answer.mac }),
    seenAt: new Date().toISOString(),
  };
}

/**
 * Test hook: with LABGATE_TEST_HOOKS=1, LABGATE_TEST_HOLD_LOCK_MS pauses a change inside the lock,
 * after deciding and before writing, so a test can kill the process at the worst moment.
 */
async function holdLockForTests(): Promise<void> {
  if (process.env.LABGATE_TEST_HOOKS !== "1") return;
  const ms = Number(process.env.LABGATE_TEST_HOLD_LOCK_MS ?? 0);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}
