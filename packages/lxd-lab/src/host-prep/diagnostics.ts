import { type RunOptions, redact } from "@labgate/core";
import { lxdDaemonPaths } from "./lxd-daemon.js";
import { ENVIRON_SCRIPT, findLxdSocket } from "./probes.js";
import { show } from "./show.js";
import type { HostCommandRunner, ResolvedHostPrep } from "./types.js";

export interface DiagnosticSection {
  title: string;
  command: string;
  exitCode: number;
  output: string;
}

export interface HostDiagnostics {
  sections: DiagnosticSection[];
  /** What the output points at, e.g. "oneadmin cannot open the LXD socket (permission denied)". */
  findings: string[];
}

const TAIL_LINES = 40;

function clip(text: string): string {
  const lines = text.trimEnd().split("\n");
  return lines.length > TAIL_LINES ? ["…", ...lines.slice(-TAIL_LINES)].join("\n") : lines.join("\n");
}

/**
 * Collects what explains a host in ERROR: `onehost show`, the tail of oned.log, the LXD socket's ACL, `lxc version`
 * as oneadmin with HOME=/home/oneadmin, and oned's environment. Read-only; every command may fail without stopping the rest.
 */
export async function collectHostDiagnostics(
  runner: HostCommandRunner,
  o: ResolvedHostPrep,
  signal?: AbortSignal,
): Promise<HostDiagnostics> {
  const sections: DiagnosticSection[] = [];
  const runOne = async (title: string, command: string, args: string[], opts: RunOptions = {}) => {
    const shown = show(command, args, opts);
    try {
      const r = await runner.run(command, args, {
        ...opts,
        allowFailure: true,
        timeoutMs: 30_000,
        ...(signal ? { signal } : {}),
      });
      // Runners redact already; diagnostics redact again because they print a process environment.
      const output = [r.stdout, r.stderr].filter((t) => t.trim()).join("\n");
      sections.push({ title, command: shown, exitCode: r.exitCode, output: clip(redact(output)) });
      return r;
    } catch (error) {
      sections.push({ title, command: shown, exitCode: -1, output: redact((error as Error).message) });
      return undefined;
    }
  };
  if (o.hostName)
    await runOne("OpenNebula's view of the host", "onehost", ["show", o.hostName], { sudoUser: o.user });
  await runOne("oned.log (tail)", "tail", ["-n", String(TAIL_LINES), o.onedLog], { sudo: true });
  // The daemon's own arguments say where it logs and listens (snap, package or started by hand).
  const daemon = await runner.run("pgrep", ["-o", "-x", "lxd"], { allowFailure: true });
  const lxdPid = daemon.stdout.trim();
  const paths = /^\d+$/.test(lxdPid)
    ? lxdDaemonPaths(
        (await runner.run("cat", [`/proc/${lxdPid}/cmdline`], { sudo: true, allowFailure: true })).stdout
          .split("\0")
          .filter(Boolean),
        {},
      )
    : undefined;
  if (paths?.logFile)
    await runOne("LXD daemon log (tail)", "tail", ["-n", String(TAIL_LINES), paths.logFile], { sudo: true });
  else if (paths)
    await runOne(
      "LXD daemon log (journal)",
      "journalctl",
      ["-u", paths.install === "snap" ? "snap.lxd.daemon" : "lxd", "--no-pager", "-n", String(TAIL_LINES)],
      { sudo: true },
    );
  else
    sections.push({
      title: "LXD daemon",
      command: show("pgrep", ["-o", "-x", "lxd"]),
      exitCode: 1,
      output: "no lxd daemon is running",
    });
  const socket =
    paths && (await runner.run("test", ["-S", paths.socket], { allowFailure: true })).exitCode === 0
      ? paths.socket
      : await findLxdSocket(runner);
  if (socket) await runOne("LXD socket permissions", "getfacl", ["-p", socket], { sudo: true });
  else
    sections.push({
      title: "LXD socket permissions",
      command: "test -S <socket>",
      exitCode: 1,
      output: "no LXD socket found",
    });
  const lxc = await runOne(`lxc as ${o.user}`, "lxc", ["version"], {
    sudoUser: o.user,
    env: { HOME: o.overrideHome },
  });
  const pgrep = await runner.run("pgrep", ["-o", "-x", o.daemon], { allowFailure: true });
  const pid = pgrep.stdout.trim();
  if (pgrep.exitCode === 0 && /^\d+$/.test(pid)) {
    await runOne(`environment of ${o.daemon} (pid ${pid})`, "sh", ["-c", ENVIRON_SCRIPT, "sh", pid], {
      sudo: true,
    });
  } else {
    sections.push({
      title: `environment of ${o.daemon}`,
      command: show("pgrep", ["-o", "-x", o.daemon]),
      exitCode: pgrep.exitCode,
      output: `${o.daemon} is not running`,
    });
  }
  return { sections, findings: findings(sections, lxc?.stdout ?? "", lxc?.stderr ?? "", o) };
}

function findings(
  sections: DiagnosticSection[],
  lxcOut: string,
  lxcErr: string,
  o: ResolvedHostPrep,
): string[] {
  const out: string[] = [];
  const lxc = `${lxcOut}\n${lxcErr}`;
  if (/permission denied/i.test(lxc))
    out.push(
      `${o.user} cannot open the LXD socket (permission denied): add it to the lxd group and restart ${o.service}.`,
    );
  if (/cannot create user data directory|snap-confine|outside of \/home/i.test(lxc)) {
    out.push(
      `snap confinement refuses ${o.user}'s home: apply the snap home fix (snap set system homedirs, or the HOME override), then restart ${o.service}.`,
    );
  }
  if (/unreachable/i.test(lxc) || sections.some((s) => s.output === "no LXD socket found"))
    out.push("The LXD daemon is not answering on its socket: start LXD.");
  const env = sections.find((s) => s.title.startsWith("environment of"));
  if (env && env.exitCode === 0 && !new RegExp(`^HOME=${o.overrideHome}$`, "m").test(env.output)) {
    const home = /^HOME=(.*)$/m.exec(env.output)?.[1];
    if (home && !home.startsWith("/home/"))
      out.push(
        `${o.daemon} runs with HOME=${home}, outside /home: snap-confined lxc will refuse it on old snapd.`,
      );
  }
  return out;
}

export function formatDiagnostics(d: HostDiagnostics): string[] {
  const lines: string[] = [];
  for (const s of d.sections) {
    lines.push(`── ${s.title}: ${s.command}${s.exitCode === 0 ? "" : ` (exit ${s.exitCode})`}`);
    for (const line of s.output.split("\n")) lines.push(`   ${line}`);
  }
  if (d.findings.length > 0) {
    lines.push("── what this points at:");
    for (const f of d.findings) lines.push(`   • ${f}`);
  }
  return lines;
}
