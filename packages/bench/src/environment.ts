import { createHash } from "node:crypto";
import { arch, cpus, hostname, platform, release } from "node:os";
import { displayQuote } from "@labgate/core/shell-quote";
import type { BenchEnvironment, BenchOptions, LabFingerprint, ResolvedBenchOptions } from "./types.js";
import { VERSION } from "./version.js";

/** The environment block of a result: what produced the numbers, so two results can be told apart. */
export function captureEnvironment(
  options: Pick<ResolvedBenchOptions, "engine" | "workers">,
  input: Pick<BenchOptions, "commandLine" | "lab">,
): BenchEnvironment {
  const cpuList = cpus();
  return {
    commandLine: input.commandLine ? publicCommandLine(input.commandLine) : null,
    labgateVersion: VERSION,
    node: process.version,
    os: { platform: platform(), release: release(), arch: arch() },
    cpus: { count: cpuList.length, model: cpuList[0]?.model.trim() ?? "unknown" },
    engine: options.engine,
    workers: options.workers,
    hostname: hostname(),
    lab: input.lab ?? null,
  };
}

const SECRET_HEADER = /auth|cookie|token|secret|session|passw|api-?key/i;
const HEADER_FLAGS = new Set(["-H", "--header"]);
const BODY_FLAGS = new Set(["-b", "--body"]);

/**
 * The command line as recorded: secret-looking header values masked, inline bodies by size only
 * (they may be large or sensitive), passwords in URLs masked. Everything else stays as typed.
 */
export function publicCommandLine(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = flag !== arg ? arg.slice(eq + 1) : null;
    if (HEADER_FLAGS.has(flag) || BODY_FLAGS.has(flag)) {
      const value = inline ?? argv[i + 1];
      if (value === undefined) {
        out.push(arg);
        continue;
      }
      const masked = HEADER_FLAGS.has(flag) ? maskHeader(value) : `<${Buffer.byteLength(value)}-byte body>`;
      if (inline !== null) out.push(`${flag}=${masked}`);
      else out.push(arg, masked);
      if (inline === null) i++;
      continue;
    }
    out.push(maskUrlPassword(arg));
  }
  return out;
}

function maskHeader(header: string): string {
  const colon = header.indexOf(":");
  if (colon < 0) return header;
  const name = header.slice(0, colon).trim();
  return SECRET_HEADER.test(name) ? `${name}: ***` : header;
}

function maskUrlPassword(arg: string): string {
  return arg.replace(/^(https?:\/\/[^/:@\s]+):[^@/\s]*@/i, "$1:***@");
}

/** A lab's fingerprint from what the lab knows about itself; the HAProxy config is hashed, never stored. */
export function labFingerprint(lab: {
  name?: string;
  provider: string;
  topology: string;
  haproxyConfig: string | null;
}): LabFingerprint {
  return {
    ...(lab.name !== undefined ? { name: lab.name } : {}),
    provider: lab.provider,
    topology: lab.topology,
    haproxyConfigSha256: lab.haproxyConfig === null ? null : sha256(lab.haproxyConfig),
  };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Why two results may not be comparable, one sentence per difference; empty when nothing differs that is recorded. */
export function environmentDifferences(a?: BenchEnvironment, b?: BenchEnvironment): string[] {
  if (!a || !b) {
    return a === b
      ? []
      : ["Only one of the runs recorded its environment; cannot tell whether they ran on the same machine."];
  }
  const out: string[] = [];
  const differ = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${what} differ (${show(x)} vs ${show(y)}).`);
  };
  if (a.lab || b.lab) {
    if (!a.lab || !b.lab)
      out.push("Only one of the runs was made from a lab; the targets are likely different.");
    else {
      differ("The labs' providers", a.lab.provider, b.lab.provider);
      differ("The labs' topologies", a.lab.topology, b.lab.topology);
      differ(
        "The labs' HAProxy configurations (sha256)",
        a.lab.haproxyConfigSha256,
        b.lab.haproxyConfigSha256,
      );
      differ("The labs' names", a.lab.name ?? null, b.lab.name ?? null);
    }
  }
  differ("The hosts", a.hostname, b.hostname);
  differ("The CPU counts", a.cpus.count, b.cpus.count);
  differ("The CPU models", a.cpus.model, b.cpus.model);
  differ("The Node versions", a.node, b.node);
  differ(
    "The operating systems",
    `${a.os.platform} ${a.os.release} ${a.os.arch}`,
    `${b.os.platform} ${b.os.release} ${b.os.arch}`,
  );
  differ("The labgate versions", a.labgateVersion, b.labgateVersion);
  differ("The engines", `${a.engine} × ${a.workers}`, `${b.engine} × ${b.workers}`);
  return out;
}

function show(v: unknown): string {
  if (typeof v === "string") return v.length > 16 && /^[0-9a-f]+$/.test(v) ? v.slice(0, 12) : v;
  return String(v);
}

/** The environment as label/value rows for the reports. */
export function environmentRows(e: BenchEnvironment): string[][] {
  const rows = [
    ["command line", e.commandLine ? e.commandLine.map(displayQuote).join(" ") : "(library call)"],
    ["labgate", e.labgateVersion],
    ["Node.js", e.node],
    ["OS", `${e.os.platform} ${e.os.release} (${e.os.arch})`],
    ["CPUs", `${e.cpus.count} × ${e.cpus.model}`],
    ["host", e.hostname],
    ["engine", `${e.engine}, ${e.workers} worker thread(s)`],
  ];
  if (e.lab) {
    rows.push(
      ["lab", `${e.lab.name ? `${e.lab.name} · ` : ""}${e.lab.provider}`],
      ["lab topology", e.lab.topology],
      ["HAProxy config sha256", e.lab.haproxyConfigSha256 ?? "unknown"],
    );
  }
  return rows;
}
