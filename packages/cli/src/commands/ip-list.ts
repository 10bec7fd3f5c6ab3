import { type IpPool, parseCidr } from "@labgate/core";
import { createOutput, type Output, type OutputStreams } from "../output.js";
import { type IpListFlags, poolFrom } from "./ip-common.js";
import { formatTable } from "./ip-format.js";

/** `labgate ip list`: every recorded address, optionally for one network or owner. */
export async function ipListCommand(flags: IpListFlags, streams: OutputStreams = process): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const pool = poolFrom(flags);
  out.verbose(`IP pool: ${pool.configPath ?? "(given inline)"}; ledger: ${pool.statePath}`);
  const network = flags.network === undefined ? undefined : await canonicalNetwork(pool, flags.network);
  const { allocations: all, conflicts } = await pool.snapshot();
  const shown = all.filter(
    (a) =>
      (network === undefined || a.network === network) &&
      (flags.owner === undefined || a.owner === flags.owner),
  );
  describeList(out, shown.length, all.length, pool.statePath);
  for (const c of conflicts.filter((c) => network === undefined || c.network === network)) {
    out.warn(
      `${c.ip} is held back as a conflict: it answered ${c.via === "arp" ? `ARP from ${c.mac ?? "an unknown MAC"}` : "a ping"} at ${c.seenAt} ` +
        `(name its holder with labgate ip reserve --ip ${c.ip} --owner <who>, or forget it with labgate ip release --ip ${c.ip}).`,
    );
  }
  out.result(shown, formatTable);
  return 0;
}

async function canonicalNetwork(pool: IpPool, network: string): Promise<string> {
  const config = await pool.config();
  const named = config.networks.find((n) => n.name === network);
  if (named) return named.cidr;
  return parseCidr(network).cidr;
}

function describeList(out: Output, shown: number, total: number, statePath: string): void {
  if (total === 0) out.info(`No addresses recorded yet in ${statePath}.`);
  else if (shown === total) out.info(`${total} address${total === 1 ? "" : "es"} recorded in ${statePath}.`);
  else out.info(`${shown} of ${total} recorded addresses match (ledger: ${statePath}).`);
}
