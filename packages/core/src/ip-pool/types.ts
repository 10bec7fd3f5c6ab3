import type { z } from "zod";
import type { ipNetworkSchema, ipPoolConfigSchema, PROBE_METHODS } from "./config-schema.js";
import type { LedgerStore } from "./ledger-store.js";
import type { AddressProbe } from "./probe.js";

/** One address handed out (or held) by the pool manager: everything a caller needs for a static config. */
export interface IpAllocation {
  ip: string;
  /** Canonical CIDR of the subnet, e.g. "192.168.3.0/24". */
  network: string;
  prefix: number;
  netmask: string;
  gateway: string;
  dns: string[];
  owner: string;
  /** "pool": from a configured pool range; "fallback": descending from the subnet's last usable address. */
  source: "pool" | "fallback";
  /** ISO-8601 time the address was recorded. */
  allocatedAt: string;
  /** True when the address was held with reserve() rather than chosen by allocate(). */
  reserved?: boolean;
  /** Why a fallback address was used (pools exhausted, network not configured, ...). */
  fallbackReason?: string;
}

/** An address that answered a probe although the ledger had it free: something outside labgate uses it. */
export interface IpConflict {
  ip: string;
  network: string;
  /** How it was found: an ARP reply (with the answering MAC) or an ICMP echo reply. */
  via: "arp" | "ping";
  /** Lower-case MAC of the ARP reply. */
  mac?: string;
  /** When it answered (ISO-8601). */
  seenAt: string;
}

/** One subnet in config/ip_pools.json; described once in config-schema.ts (validation, type, JSON Schema). */
export type IpNetworkConfig = z.output<typeof ipNetworkSchema>;
/** An inclusive address range: a pool or an exclusion. */
export type IpRange = IpNetworkConfig["pools"][number];
/** "arp": RFC 5227 ARP probe on a directly attached subnet; "ping": ICMP echo; "none": trust the ledger. */
export type ProbeMethod = (typeof PROBE_METHODS)[number];
/** config/ip_pools.json: the subnets, the fallback's DNS servers and the default probe method. */
export type IpPoolConfig = z.output<typeof ipPoolConfigSchema>;

export interface IpPoolOptions {
  /** Default: $LABGATE_IP_POOLS, else config/ip_pools.json resolved from the working directory. */
  configPath?: string;
  /** Default: beside the config file, `<config name>.state.json` (ip_pools.state.json). */
  statePath?: string;
  /** An in-memory config instead of a file (statePath is then required). */
  config?: IpPoolConfig;
  /**
   * Where the ledger lives instead of statePath: a postgres:// URL (a ledger shared by a team), a
   * file path, or a LedgerStore of your own.
   */
  ledger?: string | LedgerStore;
  /** How long to wait for another process holding the ledger lock. */
  lockTimeoutMs?: number;
  /**
   * Probe each candidate on the wire before allocate() hands it out (per network: its `probe`
   * method). true: arping/ping; a function: your own probe. Default: no probing (the CLI probes).
   */
  probe?: boolean | AddressProbe;
}

export type IpReleaseSelector = { owner: string; network?: string } | { ip: string };
