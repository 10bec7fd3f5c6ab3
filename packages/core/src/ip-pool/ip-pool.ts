import { resolve } from "node:path";
import { IpLedgerError, IpPoolRequestError } from "../errors.js";
import {
  type LedgerChange,
  type PlanContext,
  planAllocation,
  planConflict,
  planRelease,
  planReservation,
} from "./allocator.js";
import { type AuditLogRead, auditEntriesFor } from "./audit-log.js";
import { loadIpPoolConfig, validateIpPoolConfig } from "./config.js";
import { formatIpv4, parseIpv4 } from "./ipv4.js";
import type { IpLedger } from "./ledger.js";
import { assertLedgerMatchesConfig } from "./ledger-config-check.js";
import { FileLedgerStore, type LedgerLockScope, type LedgerStore } from "./ledger-store.js";
import { resolveNetwork } from "./network-view.js";
import { defaultIpPoolStatePath, resolveIpPoolConfigPath } from "./paths.js";
import { isPostgresUrl, PgLedgerStore } from "./pg-ledger-store.js";
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
  /** Where the ledger lives: the JSON file (default) or a PostgreSQL database. */
  readonly store: LedgerStore;

  constructor(opts: IpPoolOptions = {}) {
    this.inlineConfig = opts.config;
    this.lockTimeoutMs = opts.lockTimeoutMs;
    this.prober = typeof opts.probe === "function" ? opts.probe : opts.probe ? systemProbe() : undefined;
    let store: LedgerStore | undefined;
    if (opts.ledger !== undefined && typeof opts.ledger !== "string") store = opts.ledger;
    else if (typeof opts.ledger === "string" && isPostgresUrl(opts.ledger)) {
      store = new PgLedgerStore(opts.ledger, opts.lockTimeoutMs);
    }
    if (opts.config !== undefined && opts.configPath === undefined) {
      if (opts.statePath === undefined && store === undefined) {
        throw new IpPoolRequestError(
          "STATE_PATH_REQUIRED",
          "An in-memory IP pool config needs a statePath for its ledger.",
          {
            hint: "Pass statePath (a JSON file; its directory is created if missing).",
          },
        );
      }
      this.configPath = undefined;
      this.statePath = store?.location ?? resolve(opts.statePath as string);
    } else {
      this.configPath = resolveIpPoolConfigPath(opts.configPath);
      const file =
        typeof opts.ledger === "string" && !isPostgresUrl(opts.ledger) ? opts.ledger : opts.statePath;
      this.statePath =
        store?.location ?? (file === undefined ? defaultIpPoolStatePath(this.configPath) : resolve(file));
    }
    this.store = store ?? new FileLedgerStore(this.statePath, this.lockTimeoutMs);
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
    // Only this subnet is locked: allocations on other subnets (and other teams) go on meanwhile.
    const subnet = resolveNetwork(await this.config(), network, this.configPath ?? IN_MEMORY).subnet.cidr;
    const { result, changed, conflicts } = await this.change(
      options.command ?? "allocate",
      (ctx) => planAllocation(ctx, network, owner),
      options,
      { subnets: [subnet] },
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
    const { location, ledger } = await this.store.read();
    assertLedgerMatchesConfig(ledger, config, location);
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
      const { location, ledger } = await this.store.read();
      assertLedgerMatchesConfig(ledger, config, location);
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
      "all",
    );
    return { report: report as ReconcileReport, fixed: changed };
  }

  /**
   * Copies this pool's ledger and audit history into an empty PostgreSQL ledger in one transaction,
   * then marks the file as moved (`migratedTo`), so a forgotten `--state` cannot keep allocating
   * from a copy that no longer counts. The file itself is kept as the record of what was moved.
   */
  async migrateTo(
    url: string,
  ): Promise<{ to: string; allocations: number; conflicts: number; auditEntries: number }> {
    if (!isPostgresUrl(url)) {
      throw new IpPoolRequestError(
        "INVALID_LEDGER_URL",
        `--to must be a postgres:// URL, not ${JSON.stringify(url.slice(0, 60))}.`,
        {
          hint: "e.g. labgate ip migrate --to postgres://ipam@db.lab.example/labgate",
        },
      );
    }
    const config = await this.config();
    const target = new PgLedgerStore(url, this.lockTimeoutMs);
    const history = await this.store.auditLog();
    return this.store.change("all", async (source) => {
      assertLedgerMatchesConfig(source.ledger, config, source.location);
      assertNotMigrated(source.ledger, source.location);
      const { extra: _kept, ...moved } = source.ledger;
      const counts = await target.change("all", async (tx) => {
        if (tx.ledger.allocations.length > 0 || (tx.ledger.conflicts ?? []).length > 0) {
          throw new IpLedgerError(
            "LEDGER_NOT_EMPTY",
            `The ledger at ${target.location} already holds ${tx.ledger.allocations.length} address(es); migrate only fills an empty one.`,
            {
              hint: "Point --to at a new database (or empty labgate_ip_allocations there after checking nobody uses it).",
              details: { to: target.location },
            },
          );
        }
        const entries = [...history.entries, ...auditEntriesFor(tx.ledger, moved, "migrate", new Date())];
        await tx.persist(moved, entries);
        return {
          to: target.location,
          allocations: moved.allocations.length,
          conflicts: (moved.conflicts ?? []).length,
          auditEntries: entries.length,
        };
      });
      await source.persist(
        { ...source.ledger, extra: { ...source.ledger.extra, migratedTo: target.location } },
        [],
      );
      return counts;
    });
  }

  /** The audit log beside the ledger: every change, one JSON line each. */
  async auditLog(): Promise<AuditLogRead & { path: string }> {
    return this.store.auditLog();
  }

  /**
   * Applies the plan under the ledger lock: read, check against the config, decide, (probe the
   * candidate; an answer is recorded as a conflict and the plan decides again), write, audit.
   */
  private async change<T>(
    command: string,
    plan: (ctx: PlanContext) => LedgerChange<T>,
    options: IpChangeOptions,
    scope: LedgerLockScope = "all",
    probe?: (result: T, config: IpPoolConfig) => Promise<IpConflict | undefined>,
  ): Promise<{ result: T; changed: boolean; conflicts: IpConflict[] }> {
    // Config errors surface before any lock is taken or file touched.
    const config = await this.config();
    const configSource = this.configPath ?? IN_MEMORY;
    const now = new Date();
    const context = (ledger: IpLedger, location: string): PlanContext => ({
      config,
      configSource,
      stateSource: location,
      ledger,
      now,
    });
    if (options.dryRun) {
      const { location, ledger } = await this.store.read();
      assertLedgerMatchesConfig(ledger, config, location);
      const { result, ledger: next } = plan(context(ledger, location));
      return { result, changed: next !== undefined, conflicts: [] };
    }
    return this.store.change(scope, async (tx) => {
      const before = tx.ledger;
      assertLedgerMatchesConfig(before, config, tx.location);
      assertNotMigrated(before, tx.location);
      const persist = (after: IpLedger) =>
        tx.persist(after, auditEntriesFor(before, after, command, new Date()));
      let ledger = before;
      const conflicts: IpConflict[] = [];
      for (;;) {
        let decision: LedgerChange<T>;
        try {
          decision = plan(context(ledger, tx.location));
        } catch (error) {
          // What the probes found stays true even when no address is left.
          if (conflicts.length > 0) await persist(ledger);
          throw error;
        }
        const found = decision.ledger && probe ? await probe(decision.result, config) : undefined;
        if (found) {
          conflicts.push(found);
          ledger = planConflict(context(ledger, tx.location), found).ledger as IpLedger;
          continue;
        }
        const next = decision.ledger ?? (conflicts.length > 0 ? ledger : undefined);
        if (next) await persist(next);
        return { result: decision.result, changed: decision.ledger !== undefined, conflicts };
      }
    });
  }
}

/** A file ledger moved to PostgreSQL is history: changing it would fork the team's ledger. */
function assertNotMigrated(ledger: IpLedger, location: string): void {
  const to = ledger.extra?.migratedTo;
  if (to === undefined) return;
  throw new IpLedgerError(
    "LEDGER_MIGRATED",
    `The ledger ${location} was moved to ${String(to)}; it is kept only as a record.`,
    {
      hint: `Use the shared ledger: --ledger ${String(to)} (or set LABGATE_LEDGER); give the password as usual.`,
      details: { path: location, migratedTo: to },
    },
  );
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
