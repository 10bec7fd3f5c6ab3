import { IpPool, IpPoolRequestError, isPostgresUrl } from "@labgate/core";

/** Flags every `labgate ip` subcommand takes. */
export interface IpCommonFlags {
  /** --ip-pools (formerly --config): the pool config file. */
  ipPools?: string;
  /** --ip-state (formerly --state): the file ledger. */
  ipState?: string;
  /** postgres://... for a shared ledger (default: $LABGATE_LEDGER, else the file ledger). */
  ledger?: string;
  json?: boolean;
  dryRun?: boolean;
}

export interface IpAllocateFlags extends IpCommonFlags {
  network?: string;
  owner?: string;
  /** --probe / --no-probe; undefined: probe (each network's method decides how). */
  probe?: boolean;
}

export interface IpProbeFlags extends IpCommonFlags {
  network?: string;
  method?: string;
}

export interface IpReconcileFlags extends IpCommonFlags {
  platform?: string;
  /** A lab spec: its subnet is the scope, its provider the default platform. */
  lab?: string;
  network?: string[];
  fix?: boolean;
  yes?: boolean;
  /** LXD's unix socket (default: lxdSocketCandidates' order). */
  socket?: string;
  /** OpenNebula's XML-RPC endpoint (default $ONE_XMLRPC, or the --lab's providerOptions). */
  endpoint?: string;
  /** Proxmox API URL (default $PROXMOX_URL). */
  url?: string;
  /** Proxmox nodes to read (default $PROXMOX_NODE). */
  node?: string[];
  /** Proxmox: accept a self-signed certificate. */
  insecureTls?: boolean;
}

export interface IpLogFlags extends IpCommonFlags {
  owner?: string;
  ip?: string;
  since?: string;
}

export interface IpReleaseFlags extends IpCommonFlags {
  owner?: string;
  ip?: string;
  network?: string;
}

export interface IpReserveFlags extends IpCommonFlags {
  ip?: string;
  owner?: string;
  network?: string;
}

export interface IpListFlags extends IpCommonFlags {
  network?: string;
  owner?: string;
}

/** The pool the flags point at: --ip-pools and --ip-state, else the defaults beside config/ip_pools.json. */
export function poolFrom(flags: IpCommonFlags, env: NodeJS.ProcessEnv = process.env): IpPool {
  const ledger = flags.ledger ?? (flags.ipState === undefined ? env.LABGATE_LEDGER || undefined : undefined);
  if (ledger !== undefined && flags.ipState !== undefined) {
    throw new IpPoolRequestError("LEDGER_AND_STATE", "Give either --ledger or --ip-state, not both.", {
      hint: "--ip-state is the file ledger; --ledger postgres://... is a shared one.",
    });
  }
  if (ledger !== undefined && !isPostgresUrl(ledger)) {
    throw new IpPoolRequestError(
      "INVALID_LEDGER_URL",
      `--ledger (or LABGATE_LEDGER) must be a postgres:// URL, not ${JSON.stringify(ledger.slice(0, 60))}.`,
      { hint: "For a file ledger use --ip-state <file>; for a shared one --ledger postgres://user@host/db." },
    );
  }
  return new IpPool({
    ...(flags.ipPools === undefined ? {} : { configPath: flags.ipPools }),
    ...(flags.ipState === undefined ? {} : { statePath: flags.ipState }),
    ...(ledger === undefined ? {} : { ledger }),
  });
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") {
    throw new IpPoolRequestError("MISSING_OPTION", `${flag} is required.`, { hint: `Pass ${flag} <value>.` });
  }
  return value;
}

export interface IpMigrateFlags extends IpCommonFlags {
  to?: string;
}
