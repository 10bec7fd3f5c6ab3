import { IpPoolRequestError, type NetworkProbeAnswer } from "@labgate/core";
import { createOutput, type OutputStreams } from "../output.js";
import { type IpProbeFlags, poolFrom, required } from "./ip-common.js";
import { formatColumns } from "./ip-format.js";

/** `labgate ip probe`: which pool addresses of a network answer on the wire, and what the ledger says. */
export async function ipProbeCommand(flags: IpProbeFlags, streams: OutputStreams = process): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const network = required(flags.network, "--network");
  if (flags.method !== undefined && flags.method !== "arp" && flags.method !== "ping") {
    throw new IpPoolRequestError(
      "INVALID_PROBE_METHOD",
      `--method must be arp or ping, not ${JSON.stringify(flags.method)}.`,
      {
        hint: "arp for a subnet this machine is attached to, ping otherwise; or leave it out to use the config's method.",
      },
    );
  }
  const pool = poolFrom(flags);
  const report = await pool.probeNetwork(network, flags.method === undefined ? {} : { method: flags.method });
  const unknown = report.answers.filter((a) => a.recorded === "no").length;
  out.info(
    `Probed ${report.probed} pool address${report.probed === 1 ? "" : "es"} of ${report.network} by ${report.method}: ` +
      `${report.answers.length} answered, ${unknown} of them free in the ledger (${pool.statePath}).` +
      (unknown > 0 ? " The next allocation skips those and records them as conflicts." : ""),
  );
  out.result(report.answers, formatAnswers);
  return 0;
}

function formatAnswers(rows: NetworkProbeAnswer[]): string {
  const header = ["IP", "VIA", "MAC", "LEDGER"];
  const body = rows.map((r) => [
    r.ip,
    r.via,
    r.mac ?? "-",
    r.recorded === "no"
      ? "free (in use by something unknown)"
      : r.recorded === "conflict"
        ? "conflict"
        : `owner ${r.recorded.owner}`,
  ]);
  return formatColumns(header, body);
}
