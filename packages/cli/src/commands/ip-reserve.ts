import { createOutput, type OutputStreams } from "../output.js";
import { type IpReserveFlags, poolFrom, required } from "./ip-common.js";
import { formatAllocationLine } from "./ip-format.js";

/** `labgate ip reserve`: hold one address out of use. */
export async function ipReserveCommand(
  flags: IpReserveFlags,
  streams: OutputStreams = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const pool = poolFrom(flags);
  const dryRun = Boolean(flags.dryRun);
  const { allocation, created } = await pool.reserveDetailed(
    required(flags.ip, "--ip"),
    required(flags.owner, "--owner"),
    flags.network,
    { dryRun },
  );
  if (!created) {
    out.info(`${allocation.owner} already holds ${allocation.ip} on ${allocation.network}; nothing changed.`);
  } else if (dryRun) {
    out.info(
      `Would reserve ${allocation.ip} on ${allocation.network} for ${allocation.owner}. Dry run: nothing was written to ${pool.statePath}.`,
    );
  } else {
    out.info(
      `Reserved ${allocation.ip} on ${allocation.network} for ${allocation.owner}; allocate will not hand it out. Recorded in ${pool.statePath}.`,
    );
  }
  out.result(allocation, formatAllocationLine);
  return 0;
}
