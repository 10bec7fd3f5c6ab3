import {
  ExitCode,
  findLxdSocket,
  IpPoolRequestError,
  LabgateError,
  LxdClient,
  LxdUnreachableError,
  localAddresses,
  lxdAddresses,
  lxdSocketCandidates,
  OpenNebulaClient,
  openNebulaAddresses,
  type PlatformAddress,
  proxmoxAddresses,
  type ReconcileReport,
} from "@labgate/core";
import { type LabSpec, loadLabSpec, oneLabOptions } from "@labgate/lxd-lab";
import { createOutput, type Output, type OutputStreams } from "../output.js";
import { askYes } from "./ask-yes.js";
import { type IpReconcileFlags, poolFrom } from "./ip-common.js";
import { formatColumns } from "./ip-format.js";

export interface ReconcileIo extends OutputStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

const PLATFORMS = ["lxd", "local", "opennebula", "proxmox"] as const;

/**
 * `labgate ip reconcile`: the ledger against what a platform really uses. Shows leaked, unknown and
 * mismatched addresses; --fix (behind a gate) releases the leaked ones and records the unknown ones.
 */
export async function ipReconcileCommand(
  flags: IpReconcileFlags,
  io: ReconcileIo = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const lab = flags.lab === undefined ? undefined : (await loadLabSpec(flags.lab)).spec;
  const platform = flags.platform ?? lab?.provider;
  if (!PLATFORMS.includes(platform as (typeof PLATFORMS)[number])) {
    throw new IpPoolRequestError(
      "INVALID_PLATFORM",
      `--platform must be one of ${PLATFORMS.join(", ")}, not ${JSON.stringify(String(platform).slice(0, 40))}.`,
      {
        hint: "e.g. labgate ip reconcile --platform lxd (or --lab lab.yaml, whose provider names the platform)",
      },
    );
  }
  const used = await platformAddresses(platform as (typeof PLATFORMS)[number], flags, lab);
  const pool = poolFrom(flags);
  // A lab's subnet is its own: everything on it is the lab's business, nothing else is.
  const scope = flags.network ?? (lab === undefined ? undefined : [lab.network.cidr]);
  const networks = scope === undefined ? {} : { networks: scope };
  const { report } = await pool.reconcile(used, networks);
  describe(out, report, platform as string);
  const fixable = report.leaked.length + report.unknown.length;
  if (!flags.fix || fixable === 0) {
    if (flags.fix) out.info("Nothing to fix.");
    else if (fixable > 0)
      out.info("Run again with --fix to release the leaked and record the unknown addresses.");
    out.result({ ...report, fixed: false }, formatReport);
    return report.mismatched.length + fixable > 0 ? ExitCode.CHECK_FAILED : ExitCode.OK;
  }
  await confirm(
    `Release ${report.leaked.length} leaked and record ${report.unknown.length} unknown address(es) in ${pool.statePath}?`,
    Boolean(flags.yes),
    io,
  );
  // Decided again under the lock, against the ledger as it is now.
  const fixed = await pool.reconcile(used, { ...networks, fix: true });
  out.info(
    `Fixed: released ${fixed.report.leaked.length}, recorded ${fixed.report.unknown.length} (audit log: labgate ip log --since 5m).`,
  );
  out.result({ ...fixed.report, fixed: fixed.fixed }, formatReport);
  return fixed.report.mismatched.length > 0 ? ExitCode.CHECK_FAILED : ExitCode.OK;
}

async function platformAddresses(
  platform: (typeof PLATFORMS)[number],
  flags: IpReconcileFlags,
  lab: LabSpec | undefined,
): Promise<PlatformAddress[]> {
  if (platform === "lxd") {
    const socketPath = findLxdSocket(lxdSocketCandidates(flags.socket));
    if (socketPath === undefined) {
      const candidates = lxdSocketCandidates(flags.socket);
      throw new LxdUnreachableError(`No LXD socket at ${candidates.join(", ")}.`, candidates, {
        hint: "Start LXD (or pass --socket <path> to its unix socket).",
      });
    }
    return lxdAddresses(new LxdClient({ socketPath }));
  }
  if (platform === "local") return localAddresses();
  if (platform === "opennebula") {
    // The session comes from ONE_SESSION / ONE_AUTH / ~/.one/one_auth or the lab spec, never a flag
    // (a flag would show in `ps`); the client registers it as a secret the moment it reads it.
    const connection = lab?.provider === "opennebula" ? oneLabOptions(lab).connection : {};
    return openNebulaAddresses(
      new OpenNebulaClient({ ...connection, ...(flags.endpoint ? { endpoint: flags.endpoint } : {}) }),
    );
  }
  const nodes = flags.node ?? (process.env.PROXMOX_NODE ? [process.env.PROXMOX_NODE] : []);
  return proxmoxAddresses({
    nodes,
    ...(flags.url ? { url: flags.url } : {}),
    ...(flags.insecureTls ? { insecureTls: true } : {}),
  });
}

function describe(out: Output, r: ReconcileReport, platform: string): void {
  out.info(
    `Compared the ledger with ${platform} on ${r.networks.join(", ") || "no network"}: ${r.matched} match, ` +
      `${r.leaked.length} leaked, ${r.unknown.length} unknown, ${r.mismatched.length} with another owner.`,
  );
}

function formatReport(r: ReconcileReport & { fixed: boolean }): string {
  const rows: string[][] = [
    ...r.leaked.map((a) => ["leaked", a.ip, a.owner, "-", "recorded, nothing uses it"]),
    ...r.unknown.map((u) => ["unknown", u.ip, "-", u.holder, `used (${u.seenIn}), not recorded`]),
    ...r.mismatched.map((m) => [
      "mismatched",
      m.allocation.ip,
      m.allocation.owner,
      m.used.holder,
      "owner does not name the holder",
    ]),
  ];
  const header = ["STATUS", "IP", "LEDGER OWNER", "USED BY", "WHY"];
  return formatColumns(header, rows);
}

/** The gate: --yes goes on; a terminal is asked; no terminal and no --yes is refused (exit 7). */
async function confirm(question: string, yes: boolean, io: ReconcileIo): Promise<void> {
  if (yes) return;
  const refuse = (message: string, hint: string) =>
    new LabgateError("NOT_CONFIRMED", message, { exitCode: ExitCode.NOT_CONFIRMED, hint });
  if (!io.stdin.isTTY) {
    throw refuse(
      `${question} needs a yes, but stdin is not a terminal, so there is no one to ask; nothing was changed.`,
      "Review `labgate ip reconcile` without --fix, then run it again with --fix --yes.",
    );
  }
  if (!(await askYes(question, io))) {
    throw refuse("Not confirmed; nothing was changed.", "Answer y to go ahead, or pass --yes.");
  }
}
