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

export interface IpRange {
  start: string;
  end: string;
}

/** One subnet in config/ip_pools.json. */
export interface IpNetworkConfig {
  /** Optional short name ("lan"), accepted wherever a network CIDR is. */
  name?: string;
  cidr: string;
  gateway: string;
  dns: string[];
  /** Whether the subnet runs DHCP; on-prem lab subnets without DHCP are why this manager exists. */
  dhcp: boolean;
  pools: IpRange[];
  /** Addresses or ranges never handed out, neither from the pools nor as fallback. */
  exclude?: (string | IpRange)[];
  /** How a candidate is checked on the wire before it is handed out (default: arp when attached, else ping). */
  probe?: ProbeMethod;
}

/** "arp": RFC 5227 ARP probe on a directly attached subnet; "ping": ICMP echo; "none": trust the ledger. */
export type ProbeMethod = "arp" | "ping" | "none";

export interface IpPoolConfig {
  networks: IpNetworkConfig[];
  /** DNS servers given with fallback addresses on subnets that are not in `networks`. */
  defaultDns?: string[];
  /** Probe method for networks that set none, including unconfigured ones (default: arp when attached, else ping). */
  probe?: ProbeMethod;
}

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
