import type { RunOptions, RunResult } from "@labgate/core";
import type { StepContext } from "../engine/step.js";

/** A host as OpenNebula reports it; core's OneHost satisfies it. */
export interface HostRecord {
  id: number;
  name: string;
  /** INIT, MONITORING_MONITORED, MONITORED, ERROR, DISABLED, OFFLINE ... */
  stateName: string;
  /** TEMPLATE/ERROR: the monitoring error OpenNebula recorded. */
  error?: string;
}

/** What host preparation needs from OpenNebula; core's OpenNebulaClient satisfies it as is. */
export interface HostRegistry {
  findHost(name: string): Promise<HostRecord | undefined>;
  /** `onehost create NAME -i IM_MAD -v VMM_MAD`; returns the new host ID. */
  hostAllocate(name: string, imMad: string, vmMad: string): Promise<number>;
  hostInfo(id: number): Promise<HostRecord>;
  /** Optional: lets undo remove a host this lab added. */
  hostDelete?(id: number): Promise<unknown>;
}

/**
 * What the steps need from core's Runner (SshRunner, LocalRunner): argument-array commands with sudo, sudo -u,
 * env and stdin. Narrow on purpose, so a provider's own runner type that wraps core's fits.
 */
export interface HostCommandRunner {
  run(
    command: string,
    args: readonly string[],
    options?: RunOptions,
  ): Promise<Pick<RunResult, "stdout" | "stderr" | "exitCode">>;
}

export type Lazy<T> = T | ((ctx: StepContext) => T);

export interface HostPrepOptions {
  /** Runs commands on the OpenNebula host (SSH runner, or LocalRunner when labgate runs on the host itself). */
  runner: Lazy<HostCommandRunner>;
  /** Where the host is reached and how it is registered in OpenNebula (its IP). Needed for the add/wait steps. */
  hostName?: string;
  /** OpenNebula, for the add-host and wait-for-MONITORED steps; without it those steps are left out. */
  hosts?: Lazy<HostRegistry>;
  /** lxd for OpenNebula ≤ 6.8, lxc for 6.10+ (default lxd). */
  driver?: "lxd" | "lxc";
  /** How to install LXD when it is missing (default auto: snap when snapd is there, else apt). */
  lxdInstall?: "snap" | "apt" | "auto";
  /** OpenNebula's service account (default oneadmin). */
  oneadminUser?: string;
  /** Home used by the systemd override on old snapd (default /home/<oneadminUser>). */
  overrideHome?: string;
  /** systemd unit of OpenNebula (default opennebula). */
  serviceName?: string;
  /** Process name of the OpenNebula daemon (default oned). */
  daemonProcess?: string;
  /** oned log (default /var/log/one/oned.log). */
  onedLog?: string;
  /** Wait for MONITORED at most this long (default 180 s). */
  monitorTimeoutMs?: number;
  /** A host continuously in ERROR for this long is reported with diagnostics (default 60 s). */
  errorGraceMs?: number;
  pollIntervalMs?: number;
  /** Wait for oned to come back after a restart (default 60 s). */
  restartTimeoutMs?: number;
}

/** Options with defaults filled in. */
export interface ResolvedHostPrep {
  runner: (ctx: StepContext) => HostCommandRunner;
  hosts: ((ctx: StepContext) => HostRegistry) | undefined;
  hostName: string | undefined;
  driver: "lxd" | "lxc";
  lxdInstall: "snap" | "apt" | "auto";
  user: string;
  overrideHome: string;
  service: string;
  daemon: string;
  onedLog: string;
  monitorTimeoutMs: number;
  errorGraceMs: number;
  pollIntervalMs: number;
  restartTimeoutMs: number;
}

function lazy<T extends object>(value: Lazy<T>): (ctx: StepContext) => T {
  return typeof value === "function" ? (value as (ctx: StepContext) => T) : () => value;
}

export function resolveHostPrep(options: HostPrepOptions): ResolvedHostPrep {
  const user = options.oneadminUser ?? "oneadmin";
  return {
    runner: lazy(options.runner),
    hosts: options.hosts === undefined ? undefined : lazy(options.hosts),
    hostName: options.hostName,
    driver: options.driver ?? "lxd",
    lxdInstall: options.lxdInstall ?? "auto",
    user,
    overrideHome: options.overrideHome ?? `/home/${user}`,
    service: options.serviceName ?? "opennebula",
    daemon: options.daemonProcess ?? "oned",
    onedLog: options.onedLog ?? "/var/log/one/oned.log",
    monitorTimeoutMs: options.monitorTimeoutMs ?? 180_000,
    errorGraceMs: options.errorGraceMs ?? 60_000,
    pollIntervalMs: options.pollIntervalMs ?? 5_000,
    restartTimeoutMs: options.restartTimeoutMs ?? 60_000,
  };
}

/** Where LXD puts its socket: snap first, then the Debian/Ubuntu package. */
export const LXD_SOCKETS = ["/var/snap/lxd/common/lxd/unix.socket", "/var/lib/lxd/unix.socket"] as const;

export const OVERRIDE_DIR = (service: string) => `/etc/systemd/system/${service}.service.d`;
export const OVERRIDE_FILE = (service: string) => `${OVERRIDE_DIR(service)}/override.conf`;
