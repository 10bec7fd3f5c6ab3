/** Pure parsers of host command output used by the host-preparation steps. */

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** `getent group lxd` → `lxd:x:998:oneadmin,ubuntu`. */
export function parseGroupLine(line: string): GroupEntry | undefined {
  const [name, , gid, members] = line.trim().split(":");
  if (!name || gid === undefined || !/^\d+$/.test(gid)) return undefined;
  return { name, gid: Number(gid), members: (members ?? "").split(",").filter(Boolean) };
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** `getent passwd oneadmin` → `oneadmin:x:9869:9869::/var/lib/one:/bin/bash`. */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const fields = line.trim().split(":");
  const [name, , uid, gid, , home] = fields;
  if (!name || !uid || !gid || !home || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home };
}

/** The snapd version from `snap version` (line `snapd  2.61.3+22.04`). */
export function parseSnapdVersion(output: string): string | undefined {
  const match = /^snapd\s+(\S+)/m.exec(output);
  return match?.[1];
}

/** Numeric compare of dotted versions, ignoring suffixes like `+22.04` or `~ubuntu`. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => (/^[\d.]+/.exec(v)?.[0] ?? "0").split(".").filter(Boolean).map(Number);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** snapd 2.59 introduced `snap set system homedirs=...` for homes outside /home. */
export const SNAPD_HOMEDIRS_MIN = "2.59";

export function snapdSupportsHomedirs(version: string): boolean {
  return compareVersions(version, SNAPD_HOMEDIRS_MIN) >= 0;
}

/** `lxc version` → client and server versions; the server is "unreachable" when the socket cannot be used. */
export function parseLxcVersion(output: string): { client?: string; server?: string } {
  const client = /^Client version:\s*(\S+)/m.exec(output)?.[1];
  const server = /^Server version:\s*(\S+)/m.exec(output)?.[1];
  return { ...(client ? { client } : {}), ...(server ? { server } : {}) };
}

/** Supplementary groups of a process from /proc/PID/status (`Groups:\t9869 998`). */
export function parseProcGroups(status: string): number[] {
  const line = /^Groups:(.*)$/m.exec(status)?.[1] ?? "";
  return line
    .trim()
    .split(/\s+/)
    .filter((g) => /^\d+$/.test(g))
    .map(Number);
}

/** /proc/PID/environ, NUL- or newline-separated KEY=VALUE. */
export function parseEnviron(raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of raw.split(/[\0\n]/)) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** `snap get system homedirs` → list of directories (empty when unset). */
export function parseHomedirs(output: string): string[] {
  return output
    .trim()
    .split(",")
    .map((d) => d.trim().replace(/\/+$/, ""))
    .filter(Boolean);
}

/** Does a systemd drop-in set `Environment=HOME=<home>` in a [Service] section? */
export function overrideSetsHome(content: string, home: string): boolean {
  let inService = false;
  for (const raw of content.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) inService = line === "[Service]";
    else if (inService && line.startsWith("Environment=")) {
      const assignments = line
        .slice("Environment=".length)
        .split(/\s+/)
        .map((a) => a.replace(/^"|"$/g, ""));
      if (assignments.includes(`HOME=${home}`)) return true;
    }
  }
  return false;
}

/** The drop-in that gives OpenNebula a HOME under /home, appended to whatever the file already holds. */
export function overrideWithHome(existing: string, home: string): string {
  const section = `[Service]\nEnvironment=HOME=${home}\n`;
  if (!existing.trim())
    return `# Added by labgate: snap-confined lxc refuses homes outside /home (snapd < 2.59).\n${section}`;
  return `${existing.endsWith("\n") ? existing : `${existing}\n`}\n# Added by labgate: snap-confined lxc refuses homes outside /home.\n${section}`;
}
