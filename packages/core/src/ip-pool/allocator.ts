import { IpPoolRequestError } from "../errors.js";
import { isUsableAddress, parseCidr, subnetContains } from "./cidr.js";
import { formatIpv4, parseIpv4 } from "./ipv4.js";
import type { IpLedger } from "./ledger.js";
import { findNetworkContaining, type NetworkView, resolveNetwork } from "./network-view.js";
import { assertValidOwner } from "./owner.js";
import { assertNoOverlappingRecordedNetwork } from "./recorded-network-conflict.js";
import { subnetExhausted } from "./subnet-exhausted.js";
import type { IpAllocation, IpConflict, IpPoolConfig, IpReleaseSelector } from "./types.js";

/** What a ledger operation decided: the entries it returns and the ledger to write (undefined: unchanged). */
export interface LedgerChange<T> {
  result: T;
  ledger: IpLedger | undefined;
}

export interface PlanContext {
  config: IpPoolConfig;
  /** Where the config came from, for messages. */
  configSource: string;
  /** Where the ledger lives, for messages (default: "the IP ledger"). */
  stateSource?: string;
  ledger: IpLedger;
  now: Date;
}

/**
 * Chooses an address for `owner` on `network`. Idempotent: an owner that already holds an address
 * there gets it back. Otherwise the lowest free pool address; when the pools are full or the
 * network has none (or is not configured), the highest free usable address, descending.
 */
export function planAllocation(ctx: PlanContext, network: string, owner: string): LedgerChange<IpAllocation> {
  assertValidOwner(owner);
  const view = resolveNetwork(ctx.config, network, ctx.configSource);
  const existing = ctx.ledger.allocations
    .filter((a) => a.network === view.subnet.cidr && a.owner === owner)
    .sort((a, b) => parseIpv4(a.ip) - parseIpv4(b.ip))[0];
  if (existing) return { result: existing, ledger: undefined };
  assertNoOverlappingRecordedNetwork(view, ctx.ledger, stateSourceOf(ctx));

  const taken = takenAddresses(ctx.ledger);
  const free = (address: number) => !taken.has(address) && !view.isBlocked(address);
  const base = { owner, allocatedAt: ctx.now.toISOString() };

  const fromPool = lowestFreeInPools(view, free);
  if (fromPool !== undefined) {
    return withEntry(ctx.ledger, allocationOf(view, fromPool, { ...base, source: "pool" }));
  }
  for (let address = view.subnet.lastUsable; address >= view.subnet.firstUsable; address--) {
    if (free(address)) {
      const fallbackReason = fallbackReasonOf(view, ctx.configSource);
      return withEntry(
        ctx.ledger,
        allocationOf(view, address, { ...base, source: "fallback", fallbackReason }),
      );
    }
  }
  throw subnetExhausted(view, ctx.ledger);
}

/** Holds `ip` for `owner` so allocate() never hands it out. Idempotent for the same owner. */
export function planReservation(
  ctx: PlanContext,
  ip: string,
  owner: string,
  network?: string,
): LedgerChange<IpAllocation> {
  assertValidOwner(owner);
  const address = parseIpv4(ip);
  const view = viewForAddress(ctx, address, ip, network);
  if (!isUsableAddress(view.subnet, address)) {
    throw new IpPoolRequestError(
      "ADDRESS_NOT_USABLE",
      `${ip} is the network or broadcast address of ${view.subnet.cidr}.`,
      {
        hint: "Reserve a host address between the network and broadcast addresses.",
        details: { ip, network: view.subnet.cidr },
      },
    );
  }
  if (address === view.gateway) {
    throw new IpPoolRequestError(
      "ADDRESS_IS_GATEWAY",
      `${ip} is the gateway of ${view.subnet.cidr}; it is never handed out.`,
      {
        hint: "Reserve a different address.",
        details: { ip, network: view.subnet.cidr },
      },
    );
  }
  const holder = ctx.ledger.allocations.find((a) => a.ip === formatIpv4(address));
  if (holder?.owner === owner && holder.network === view.subnet.cidr) {
    return { result: holder, ledger: undefined };
  }
  assertNoOverlappingRecordedNetwork(view, ctx.ledger, stateSourceOf(ctx));
  if (holder) {
    throw new IpPoolRequestError(
      "ADDRESS_TAKEN",
      `${ip} is already held by "${holder.owner}" (${holder.network}).`,
      {
        hint: `Release it first (labgate ip release --ip ${ip}) if "${holder.owner}" no longer uses it, or reserve another address.`,
        details: { ip, owner: holder.owner, network: holder.network },
      },
    );
  }
  const inPool = view.pools.some(([s, e]) => address >= s && address <= e);
  // Reserving an address a probe found in use is how a person says whose host answered there.
  const withoutConflict = { ...ctx.ledger, conflicts: otherConflicts(ctx.ledger, formatIpv4(address)) };
  return withEntry(
    withoutConflict,
    allocationOf(view, address, {
      owner,
      allocatedAt: ctx.now.toISOString(),
      source: inPool ? "pool" : "fallback",
      reserved: true,
    }),
  );
}

/** Removes an owner's addresses (optionally on one network) or one address; unknown owners are errors. */
export function planRelease(ctx: PlanContext, by: IpReleaseSelector): LedgerChange<IpAllocation[]> {
  let released: IpAllocation[];
  if ("ip" in by) {
    const ip = formatIpv4(parseIpv4(by.ip));
    released = ctx.ledger.allocations.filter((a) => a.ip === ip);
    const conflicts = otherConflicts(ctx.ledger, ip);
    if (released.length === 0 && conflicts.length < (ctx.ledger.conflicts ?? []).length) {
      // Forgetting a conflict lets the next allocation probe the address again.
      return { result: [], ledger: { ...ctx.ledger, conflicts } };
    }
    if (released.length === 0) {
      throw new IpPoolRequestError(
        "ADDRESS_NOT_ALLOCATED",
        `${by.ip} is not allocated or reserved; nothing to release.`,
        {
          hint: "Run `labgate ip list` to see the recorded addresses.",
          details: { ip: by.ip },
        },
      );
    }
  } else {
    assertValidOwner(by.owner);
    const network = by.network === undefined ? undefined : canonicalNetwork(ctx, by.network);
    released = ctx.ledger.allocations.filter(
      (a) => a.owner === by.owner && (network === undefined || a.network === network),
    );
    if (released.length === 0) {
      const owners = [...new Set(ctx.ledger.allocations.map((a) => a.owner))].sort();
      const known =
        owners.length === 0
          ? "the ledger is empty"
          : `known owners: ${owners.slice(0, 10).join(", ")}${owners.length > 10 ? ` and ${owners.length - 10} more` : ""}`;
      throw new IpPoolRequestError(
        "UNKNOWN_OWNER",
        `"${by.owner}" holds no address${network === undefined ? "" : ` on ${network}`}; ${known}.`,
        {
          hint: "Check the owner name with `labgate ip list`.",
          details: { owner: by.owner, ...(network ? { network } : {}) },
        },
      );
    }
  }
  const gone = new Set(released.map((a) => a.ip));
  return {
    result: released,
    ledger: { ...ctx.ledger, allocations: ctx.ledger.allocations.filter((a) => !gone.has(a.ip)) },
  };
}

/**
 * Records that `conflict.ip` answered a probe, so no allocation hands it out until someone
 * reserves it (naming its holder) or releases it (to probe it again).
 */
export function planConflict(ctx: PlanContext, conflict: IpConflict): LedgerChange<IpConflict> {
  const address = parseIpv4(conflict.ip);
  if (takenAddresses(ctx.ledger).has(address)) {
    throw new IpPoolRequestError("ADDRESS_TAKEN", `${conflict.ip} is already recorded in the ledger.`, {
      hint: "Only addresses the ledger has free are recorded as conflicts.",
      details: { ip: conflict.ip },
    });
  }
  const conflicts = [...(ctx.ledger.conflicts ?? []), conflict];
  return { result: conflict, ledger: { ...ctx.ledger, conflicts } };
}

function otherConflicts(ledger: IpLedger, ip: string): IpConflict[] {
  return (ledger.conflicts ?? []).filter((c) => c.ip !== ip);
}

function canonicalNetwork(ctx: PlanContext, network: string): string {
  const byName = ctx.config.networks.find((n) => n.name === network);
  if (byName) return byName.cidr;
  return parseCidr(network).cidr;
}

function viewForAddress(
  ctx: PlanContext,
  address: number,
  ip: string,
  network: string | undefined,
): NetworkView {
  if (network !== undefined) {
    const view = resolveNetwork(ctx.config, network, ctx.configSource);
    if (!subnetContains(view.subnet, address)) {
      throw new IpPoolRequestError("ADDRESS_OUTSIDE_NETWORK", `${ip} is not inside ${view.subnet.cidr}.`, {
        hint: "Give the network that contains the address.",
        details: { ip, network: view.subnet.cidr },
      });
    }
    return view;
  }
  const configured = findNetworkContaining(ctx.config, address);
  if (!configured) {
    throw new IpPoolRequestError(
      "NETWORK_REQUIRED",
      `${ip} is not inside any network in ${ctx.configSource}.`,
      {
        hint: "Say which subnet it belongs to with --network CIDR (e.g. --network 10.0.0.0/24).",
        details: { ip },
      },
    );
  }
  return resolveNetwork(ctx.config, configured.cidr, ctx.configSource);
}

function lowestFreeInPools(view: NetworkView, free: (address: number) => boolean): number | undefined {
  for (const [start, end] of view.pools) {
    for (let address = start; address <= end; address++) {
      if (free(address)) return address;
    }
  }
  return undefined;
}

function takenAddresses(ledger: IpLedger): Set<number> {
  return new Set([...ledger.allocations, ...(ledger.conflicts ?? [])].map((a) => parseIpv4(a.ip)));
}

function allocationOf(
  view: NetworkView,
  address: number,
  rest: Pick<IpAllocation, "owner" | "allocatedAt" | "source" | "reserved" | "fallbackReason">,
): IpAllocation {
  return {
    ip: formatIpv4(address),
    network: view.subnet.cidr,
    prefix: view.subnet.prefix,
    netmask: view.subnet.netmask,
    gateway: formatIpv4(view.gateway),
    dns: [...view.dns],
    owner: rest.owner,
    source: rest.source,
    allocatedAt: rest.allocatedAt,
    ...(rest.reserved ? { reserved: true } : {}),
    ...(rest.fallbackReason === undefined ? {} : { fallbackReason: rest.fallbackReason }),
  };
}

function withEntry(ledger: IpLedger, allocation: IpAllocation): LedgerChange<IpAllocation> {
  return { result: allocation, ledger: { ...ledger, allocations: [...ledger.allocations, allocation] } };
}

function fallbackReasonOf(view: NetworkView, configSource: string): string {
  if (!view.configured) return `${view.subnet.cidr} is not in ${configSource}`;
  if (view.pools.length === 0) return `${view.subnet.cidr} has no pools in ${configSource}`;
  const size = view.pools.reduce((sum, [s, e]) => sum + (e - s + 1), 0);
  const usable = view.pools.some(([s, e]) => {
    for (let address = s; address <= e; address++) if (!view.isBlocked(address)) return true;
    return false;
  });
  if (!usable) {
    return `every address in the pools of ${view.subnet.cidr} is excluded, the gateway or a DNS server in ${configSource}`;
  }
  return `the pools of ${view.subnet.cidr} (${size} addresses) have no free address left`;
}

function stateSourceOf(ctx: PlanContext): string {
  return ctx.stateSource ?? "the IP ledger";
}
