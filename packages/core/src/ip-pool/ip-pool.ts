import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { IpPoolRequestError } from "../errors.js";
import { removeOrphanTempFiles } from "../fs/atomic-write.js";
import { withFileLock } from "../fs/file-lock.js";
import {
  type LedgerChange,
  type PlanContext,
  planAllocation,
  planRelease,
  planReservation,
} from "./allocator.js";
import { loadIpPoolConfig, validateIpPoolConfig } from "./config.js";
import { parseIpv4 } from "./ipv4.js";
import { type IpLedger, readLedger, writeLedger } from "./ledger.js";
import { defaultIpPoolStatePath, resolveIpPoolConfigPath } from "./paths.js";
import type { IpAllocation, IpPoolConfig, IpPoolOptions, IpReleaseSelector } from "./types.js";

const IN_MEMORY = "(in-memory IP pool config)";

export interface IpChangeOptions {
  /** Decide against the current ledger but take no lock and write nothing (for --dry-run). */
  dryRun?: boolean;
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

  constructor(opts: IpPoolOptions = {}) {
    this.inlineConfig = opts.config;
    this.lockTimeoutMs = opts.lockTimeoutMs;
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
   * Like allocate(), and says whether the address is new or the owner already held it.
   * With dryRun, shows what allocate would return without locking or writing anything.
   */
  async allocateDetailed(
    network: string,
    owner: string,
    options: IpChangeOptions = {},
  ): Promise<{ allocation: IpAllocation; created: boolean }> {
    const { result, changed } = await this.change((ctx) => planAllocation(ctx, network, owner), options);
    return { allocation: result, created: changed };
  }

  async release(by: IpReleaseSelector, options: IpChangeOptions = {}): Promise<IpAllocation[]> {
    return (await this.change((ctx) => planRelease(ctx, by), options)).result;
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
    const { result, changed } = await this.change((ctx) => planReservation(ctx, ip, owner, network), options);
    return { allocation: result, created: changed };
  }

  /** Every recorded address, lowest first. Reads without the lock: writes replace the file atomically. */
  async list(): Promise<IpAllocation[]> {
    const ledger = await readLedger(this.statePath);
    return [...ledger.allocations].sort((a, b) => parseIpv4(a.ip) - parseIpv4(b.ip));
  }

  private async change<T>(
    plan: (ctx: PlanContext) => LedgerChange<T>,
    options: IpChangeOptions,
  ): Promise<{ result: T; changed: boolean }> {
    // Config errors surface before any lock is taken or file touched.
    const config = await this.config();
    const configSource = this.configPath ?? IN_MEMORY;
    const decide = (ledger: IpLedger) =>
      plan({ config, configSource, stateSource: this.statePath, ledger, now: new Date() });
    if (options.dryRun) {
      const { result, ledger: next } = decide(await readLedger(this.statePath));
      return { result, changed: next !== undefined };
    }
    // The lock file lives beside the ledger, so its directory must exist before the lock is taken.
    await mkdir(dirname(this.statePath), { recursive: true, mode: 0o700 });
    return withFileLock(
      this.statePath,
      async () => {
        // A writer killed between its temp file and the rename left that temp file; nobody else will.
        await removeOrphanTempFiles(this.statePath);
        const { result, ledger: next } = decide(await readLedger(this.statePath));
        if (next) {
          await holdLockForTests();
          await writeLedger(this.statePath, next);
        }
        return { result, changed: next !== undefined };
      },
      this.lockTimeoutMs === undefined ? {} : { timeoutMs: this.lockTimeoutMs },
    );
  }
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
