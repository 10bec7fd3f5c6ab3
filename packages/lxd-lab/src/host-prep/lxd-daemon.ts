import { readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { displayQuote } from "@labgate/core";

/** Where a running LXD daemon keeps its log and socket, read from how it was started (snap, deb, by hand). */
export interface LxdDaemonPaths {
  pid?: number;
  /** "snap", "package" (deb: /usr/bin/lxd or /usr/sbin/lxd) or "binary" (started by hand from elsewhere). */
  install: "snap" | "package" | "binary" | "not running";
  socket: string;
  /** A file when the daemon writes one (--logfile, or the install's default log file). */
  logFile?: string;
  /** The command that shows its recent log lines: `tail -n 50 <file>`, or journalctl for a service. */
  logCommand: string;
}

const SNAP_DIR = "/var/snap/lxd/common/lxd";
const PACKAGE_DIR = "/var/lib/lxd";

/**
 * Pure: the daemon's paths from its command line and environment. `--logfile` wins; LXD_DIR moves the
 * socket; a snap logs to $SNAP_COMMON/lxd/logs/lxd.log; a packaged daemon under systemd logs to the journal.
 */
export function lxdDaemonPaths(argv: string[], env: Record<string, string>, pid?: number): LxdDaemonPaths {
  const exe = argv[0] ?? "";
  const snap = exe.startsWith("/snap/") || env["SNAP_NAME"] === "lxd";
  const packaged = !snap && (exe === "/usr/bin/lxd" || exe === "/usr/sbin/lxd" || exe === "/usr/lib/lxd/lxd");
  const install = snap ? "snap" : packaged ? "package" : "binary";
  const dir = env["LXD_DIR"] ?? (snap ? SNAP_DIR : PACKAGE_DIR);
  const flag = argv.findIndex((a) => a === "--logfile" || a.startsWith("--logfile="));
  const given =
    flag < 0
      ? undefined
      : argv[flag]!.includes("=")
        ? argv[flag]!.slice("--logfile=".length)
        : argv[flag + 1];
  const logFile = given ?? (snap ? `${SNAP_DIR}/logs/lxd.log` : undefined);
  const logCommand = logFile
    ? `tail -n 50 ${displayQuote(logFile)}`
    : install === "package"
      ? "journalctl -u lxd --no-pager -n 50"
      : "journalctl -u lxd -u snap.lxd.daemon --no-pager -n 50   # this LXD was started without --logfile";
  return {
    ...(pid !== undefined ? { pid } : {}),
    install,
    socket: `${dir}/unix.socket`,
    ...(logFile ? { logFile } : {}),
    logCommand,
  };
}

/** Finds the running `lxd` daemon on this machine (/proc) and where its log and socket are. Read-only. */
export function findLocalLxdDaemon(): LxdDaemonPaths {
  for (const entry of safeReaddir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = readNul(`/proc/${entry}/cmdline`);
    // The daemon itself, not its helpers (`lxd forkfile`, `lxd waitready`, `lxd activateifneeded`...).
    if (basename(argv[0] ?? "") !== "lxd" || (argv[1] !== undefined && !argv[1].startsWith("-"))) continue;
    const env = Object.fromEntries(
      readNul(`/proc/${entry}/environ`)
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const)
        .filter(([k]) => k === "LXD_DIR" || k === "SNAP_NAME"),
    );
    return lxdDaemonPaths(argv, env, Number(entry));
  }
  return {
    install: "not running",
    socket: `${PACKAGE_DIR}/unix.socket`,
    logCommand:
      "journalctl -u lxd -u snap.lxd.daemon --no-pager -n 50   # no lxd daemon is running: start it (systemctl start lxd / snap start lxd)",
  };
}

/** The command showing the LXD daemon's log here, for diagnostics (`<lxd log>` in a step's diagnostics). */
export function lxdLogCommand(): string {
  return findLocalLxdDaemon().logCommand;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readNul(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}
