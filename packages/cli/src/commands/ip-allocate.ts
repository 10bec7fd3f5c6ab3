import { createOutput, type OutputStreams } from "../output.js";
import { type IpAllocateFlags, poolFrom, required } from "./ip-common.js";
import { formatAllocationLine } from "./ip-format.js";

/** `labgate ip allocate`: an address for an owner, or the one it already holds. */
export async function ipAllocateCommand(
  flags: IpAllocateFlags,
  streams: OutputStreams = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const pool = poolFrom(flags);
  const dryRun = Boolean(flags.dryRun);
  const { allocation, created, conflicts } = await pool.allocateDetailed(
    required(flags.network, "--network"),
    required(flags.owner, "--owner"),
    { dryRun, probe: flags.probe !== false },
  );
  for (const c of conflicts) {
    const what =
      c.via === "arp" ? `answered an ARP probe from ${c.mac ?? "an unknown MAC"}` : "answered a ping";
    out.warn(
      `${c.ip} ${what} although the ledger had it free; recorded it as a conflict and skipped it. ` +
        `Once you know whose it is: labgate ip reserve --ip ${c.ip} --owner <who>`,
    );
  }
  const verb = dryRun ? "Would allocate" : "Allocated";
  if (!created) {
    out.info(
      `${allocation.owner} already holds ${allocation.ip} on ${allocation.network}; returning it unchanged.`,
    );
  } else if (allocation.source === "fallback") {
    out.info(
      `${verb} fallback address ${allocation.ip} to ${allocation.owner}: ${allocation.fallbackReason ?? "no pool address"}; ` +
        "fallbacks are taken from the top of the subnet downwards and recorded like pool addresses.",
    );
  } else {
    out.info(`${verb} ${allocation.ip} to ${allocation.owner} from the pool of ${allocation.network}.`);
  }
  if (dryRun && created)
    out.info(`Dry run: nothing was written to ${pool.statePath} and no address was probed.`);
  else if (created) {
    out.info(`Recorded in ${pool.statePath}. Give it back with: labgate ip release --ip ${allocation.ip}`);
  }
  out.result(allocation, formatAllocationLine);
  return 0;
}
