import { type IpAuditEntry, IpPoolRequestError, parseIpv4 } from "@labgate/core";
import { createOutput, type OutputStreams } from "../output.js";
import { type IpLogFlags, poolFrom } from "./ip-common.js";
import { formatColumns } from "./ip-format.js";

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Ten years: anything longer is a typo, and large numbers would overflow the date. */
const MAX_SINCE_MS = 10 * 365 * 86_400_000;

/** `labgate ip log`: the audit trail of the ledger, oldest first. */
export async function ipLogCommand(
  flags: IpLogFlags,
  streams: OutputStreams = process,
  now: Date = new Date(),
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const since = flags.since === undefined ? undefined : parseSince(flags.since, now);
  const ip = flags.ip === undefined ? undefined : normaliseIp(flags.ip);
  const pool = poolFrom(flags);
  const log = await pool.auditLog();
  for (const b of log.broken) {
    out.warn(`${log.path} line ${b.line} is not a log entry and was skipped: ${JSON.stringify(b.text)}`);
  }
  const shown = log.entries.filter(
    (e) =>
      (flags.owner === undefined || e.owner === flags.owner) &&
      (ip === undefined || e.address === ip) &&
      (since === undefined || Date.parse(e.time) >= since.getTime()),
  );
  out.info(
    log.entries.length === 0
      ? `No changes recorded yet in ${log.path}.`
      : `${shown.length} of ${log.entries.length} change${log.entries.length === 1 ? "" : "s"} in ${log.path}.`,
  );
  out.result(shown, formatLog);
  return 0;
}

/** An ISO-8601 time, or a duration back from now: 90s, 15m, 2h, 7d. */
export function parseSince(text: string, now: Date): Date {
  const duration = /^([0-9]{1,9})([smhd])$/.exec(text);
  if (duration) {
    const ms = Number(duration[1]) * (UNITS[duration[2] as string] as number);
    if (ms <= MAX_SINCE_MS) return new Date(now.getTime() - ms);
  } else if (/^\d{4}-\d\d-\d\d/.test(text) && !Number.isNaN(Date.parse(text))) {
    return new Date(Date.parse(text));
  }
  throw new IpPoolRequestError(
    "INVALID_SINCE",
    `--since ${JSON.stringify(text.slice(0, 40))} is not a time or a duration of at most 10 years.`,
    {
      hint: "Give an ISO-8601 time (2026-12-06T10:00:00Z) or a duration back from now: 90s, 15m, 2h, 7d.",
    },
  );
}

function normaliseIp(text: string): string {
  parseIpv4(text);
  return text;
}

function formatLog(rows: IpAuditEntry[]): string {
  const header = ["TIME", "ACTION", "ADDRESS", "OWNER", "SOURCE", "BY", "COMMAND", "REASON"];
  const body = rows.map((e) => [
    e.time,
    e.action,
    e.address,
    e.owner ?? "-",
    e.source ?? "-",
    `${e.actor.user}@${e.actor.host}:${e.actor.pid}`,
    e.command,
    e.reason ?? "",
  ]);
  return formatColumns(header, body);
}
