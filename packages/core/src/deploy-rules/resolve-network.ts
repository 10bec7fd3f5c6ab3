import type { ResolvedNetwork, ResolvedSpec } from "../adapters/types.js";
import { DeploySpecError } from "../errors.js";
import { planAllocation } from "../ip-pool/allocator.js";
import { parseCidr, subnetContains } from "../ip-pool/cidr.js";
import type { IpPool } from "../ip-pool/ip-pool.js";
import { formatIpv4, parseIpv4, prefixToMask, prefixToNetmask } from "../ip-pool/ipv4.js";
import { readLedger } from "../ip-pool/ledger.js";
import { findNetworkContaining } from "../ip-pool/network-view.js";
import type { IpAllocation } from "../ip-pool/types.js";
import { maskToPrefix, usesDhcp } from "./rules.js";
import { type DeploySpec, LOCAL_DEFAULT_CIDR, type PlatformName } from "./spec.js";

/** The IP pool owner a deployment's address is recorded under; destroy releases by it. */
export function deployOwner(spec: Pick<DeploySpec, "name">, platform: PlatformName): string {
  return `deploy/${platform}/${spec.name}`;
}

export interface ResolveResult {
  spec: ResolvedSpec;
  /** Set when an address was taken from the pool (so it is released again on destroy or failure). */
  allocation?: IpAllocation;
}

/**
 * Turns the spec's network into a complete one. On-prem without an address: allocate from the pool
 * (falling back per its rules) and take gateway, netmask and DNS from it. With an address but gaps:
 * fill them from the pool config for that subnet, or stop. Never returns a static network with a hole.
 */
export async function resolveDeployNetwork(
  spec: DeploySpec,
  platform: PlatformName,
  pool: IpPool | undefined,
  options: { dryRun?: boolean } = {},
): Promise<ResolveResult> {
  const n = spec.network;
  const attach = n.attach === undefined ? {} : { attach: n.attach };
  if (usesDhcp(spec, platform))
    return { spec: { ...spec, platform, resolvedNetwork: { mode: "dhcp", ...attach } } };
  if (CLOUD.includes(platform)) {
    // The cloud knows the subnet's gateway and DNS; only the address to pin is ours to give.
    if (!n.ip) {
      throw new DeploySpecError(
        "CLOUD_STATIC_WITHOUT_ADDRESS",
        `${spec.name}: network.static is true on ${platform} but network.ip is missing.`,
        { hint: "Give network.ip (a free private address in the subnet), or drop static to use DHCP." },
      );
    }
    return { spec: { ...spec, platform, resolvedNetwork: { mode: "fixed", ip: n.ip, ...attach } } };
  }
  if (!n.ip) {
    const cidr = n.cidr ?? (platform === "local" ? LOCAL_DEFAULT_CIDR : undefined);
    if (!cidr) {
      throw new DeploySpecError(
        "STATIC_ADDRESS_REQUIRED",
        `${spec.name} needs a static address on ${platform}, but the spec has no network.ip or network.cidr.`,
        {
          hint: 'Add "network": {"cidr": "192.168.3.0/24"} to allocate one from the IP pool.',
        },
      );
    }
    if (!pool)
      throw new DeploySpecError(
        "IP_POOL_REQUIRED",
        "An address must be allocated, but no IP pool is configured.",
        { hint: "Pass --ip-pools config/ip_pools.json." },
      );
    const allocation = options.dryRun
      ? await previewAllocation(pool, cidr, deployOwner(spec, platform))
      : await pool.allocate(cidr, deployOwner(spec, platform));
    const resolved: ResolvedNetwork = {
      mode: "static",
      ip: allocation.ip,
      prefix: allocation.prefix,
      netmask: allocation.netmask,
      gateway: n.gateway ?? allocation.gateway,
      dns: n.dns && n.dns.length > 0 ? n.dns : allocation.dns,
      source: allocation.source,
      ...attach,
    };
    return { spec: { ...spec, platform, resolvedNetwork: resolved }, allocation };
  }
  let prefix =
    n.prefix ??
    (n.netmask ? maskToPrefix(n.netmask) : undefined) ??
    (n.cidr ? Number(n.cidr.split("/")[1]) : undefined);
  let gateway = n.gateway;
  let dns = n.dns && n.dns.length > 0 ? n.dns : undefined;
  if ((prefix === undefined || gateway === undefined || dns === undefined) && pool) {
    const config = await pool.config();
    const configured = findNetworkContaining(config, parseIpv4(n.ip));
    if (configured && (prefix === undefined || subnetContains(parseCidr(configured.cidr), parseIpv4(n.ip)))) {
      prefix ??= parseCidr(configured.cidr).prefix;
      gateway ??= configured.gateway;
      dns ??= configured.dns;
    }
  }
  const missing = [
    prefix === undefined ? "prefix" : "",
    gateway === undefined ? "gateway" : "",
    dns === undefined ? "dns" : "",
  ].filter(Boolean);
  if (prefix === undefined || gateway === undefined || dns === undefined) {
    throw new DeploySpecError(
      "STATIC_NETWORK_INCOMPLETE",
      `${spec.name}: the static address ${n.ip} has no ${missing.join(", ")}, and the IP pool config does not describe its subnet.`,
      {
        hint: `Add network.${missing.join(", network.")} to the spec, or add the subnet to config/ip_pools.json.`,
      },
    );
  }
  if (pool && !CLOUD.includes(platform)) {
    // Record the chosen address so the pool never hands it to another VM. A dry run (check, plan)
    // decides through the same call without writing, so it refuses exactly what apply would refuse.
    const network = `${formatIpv4((parseIpv4(n.ip) & prefixToMask(prefix)) >>> 0)}/${prefix}`;
    await pool.reserveDetailed(n.ip, deployOwner(spec, platform), n.cidr ?? network, {
      dryRun: options.dryRun === true,
    });
  }
  return {
    spec: {
      ...spec,
      platform,
      resolvedNetwork: {
        mode: "static",
        ip: n.ip,
        prefix,
        netmask: prefixToNetmask(prefix),
        gateway,
        dns,
        source: "spec",
        ...attach,
      },
    },
  };
}

const CLOUD: readonly PlatformName[] = ["aws", "azure"];

/** What allocate() would hand out, computed from the current ledger without writing it (for plan). */
export async function previewAllocation(pool: IpPool, network: string, owner: string): Promise<IpAllocation> {
  const config = await pool.config();
  const ledger = await readLedger(pool.statePath);
  return planAllocation(
    { config, configSource: pool.configPath ?? "<in-memory>", ledger, now: new Date() },
    network,
    owner,
  ).result;
}
