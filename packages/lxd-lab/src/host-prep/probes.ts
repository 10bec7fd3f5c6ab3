import {
  type GroupEntry,
  type PasswdEntry,
  parseEnviron,
  parseGroupLine,
  parseHomedirs,
  parseLxcVersion,
  parsePasswdLine,
  parseProcGroups,
  parseSnapdVersion,
} from "./parse.js";
import { type HostCommandRunner, LXD_SOCKETS } from "./types.js";

/** Read-only looks at the host. Every probe tolerates a missing command (exit 127) and reports "absent". */

export async function probeGroup(runner: HostCommandRunner, group: string): Promise<GroupEntry | undefined> {
  const r = await runner.run("getent", ["group", group], { allowFailure: true });
  return r.exitCode === 0 ? parseGroupLine(r.stdout) : undefined;
}

export async function probeUser(runner: HostCommandRunner, user: string): Promise<PasswdEntry | undefined> {
  const r = await runner.run("getent", ["passwd", user], { allowFailure: true });
  return r.exitCode === 0 ? parsePasswdLine(r.stdout) : undefined;
}

export async function probeSnapd(runner: HostCommandRunner): Promise<string | undefined> {
  const r = await runner.run("snap", ["version"], { allowFailure: true });
  return r.exitCode === 0 ? parseSnapdVersion(r.stdout) : undefined;
}

export async function lxdIsSnap(runner: HostCommandRunner): Promise<boolean> {
  return (await runner.run("snap", ["list", "lxd"], { allowFailure: true })).exitCode === 0;
}

export async function probeHomedirs(runner: HostCommandRunner): Promise<string[]> {
  // Unset, snapd answers "snap has no "homedirs" configuration option" with exit 1.
  const r = await runner.run("snap", ["get", "system", "homedirs"], { allowFailure: true });
  return r.exitCode === 0 ? parseHomedirs(r.stdout) : [];
}

export async function findLxdSocket(runner: HostCommandRunner): Promise<string | undefined> {
  for (const socket of LXD_SOCKETS) {
    if ((await runner.run("test", ["-S", socket], { allowFailure: true })).exitCode === 0) return socket;
  }
  return undefined;
}

export interface LxdProbe {
  installed: boolean;
  version?: string;
  server?: string;
  socket?: string;
  /** `lxc version` output, for failure messages. */
  output: string;
}

export async function probeLxd(runner: HostCommandRunner): Promise<LxdProbe> {
  const daemon = await runner.run("lxd", ["--version"], { sudo: true, allowFailure: true });
  const client = await runner.run("lxc", ["version"], { sudo: true, allowFailure: true });
  const { server } = parseLxcVersion(client.stdout);
  const socket = await findLxdSocket(runner);
  return {
    installed: daemon.exitCode === 0 || client.exitCode === 0,
    ...(daemon.exitCode === 0 ? { version: daemon.stdout.trim() } : {}),
    ...(server && server !== "unreachable" ? { server } : {}),
    ...(socket ? { socket } : {}),
    output: `${client.stdout}${client.stderr}`.trim(),
  };
}

export interface DaemonProbe {
  pid: number;
  groups: number[];
  env: Record<string, string>;
}

/** The oldest process named `daemon` (the service's main oned), its groups and environment. */
export async function probeDaemon(
  runner: HostCommandRunner,
  daemon: string,
): Promise<DaemonProbe | undefined> {
  const pgrep = await runner.run("pgrep", ["-o", "-x", daemon], { allowFailure: true });
  const pid = pgrep.stdout.trim();
  if (pgrep.exitCode !== 0 || !/^\d+$/.test(pid)) return undefined;
  const status = await runner.run("cat", [`/proc/${pid}/status`], { allowFailure: true });
  const environ = await readEnviron(runner, pid);
  if (status.exitCode !== 0) return undefined;
  return { pid: Number(pid), groups: parseProcGroups(status.stdout), env: parseEnviron(environ.stdout) };
}

/**
 * The environment of a process, one KEY=VALUE a line. A constant script with the pid as its argument: NULs
 * become newlines before output is redacted, so a secret never swallows the variables after it.
 */
export const ENVIRON_SCRIPT = 'tr "\\0" "\\n" < "/proc/$1/environ"';

export function readEnviron(runner: HostCommandRunner, pid: string) {
  return runner.run("sh", ["-c", ENVIRON_SCRIPT, "sh", pid], { sudo: true, allowFailure: true });
}

export async function readHostFile(runner: HostCommandRunner, path: string): Promise<string | undefined> {
  const r = await runner.run("cat", ["--", path], { sudo: true, allowFailure: true });
  return r.exitCode === 0 ? r.stdout : undefined;
}

export async function ownerOf(runner: HostCommandRunner, path: string): Promise<string | undefined> {
  const r = await runner.run("stat", ["-c", "%U", "--", path], { sudo: true, allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
