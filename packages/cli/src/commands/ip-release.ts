import { IpPoolRequestError } from "@labgate/core";
import { createOutput, type OutputStreams } from "../output.js";
import { type IpReleaseFlags, poolFrom } from "./ip-common.js";
import { formatTable } from "./ip-format.js";

/** `labgate ip release`: all of an owner's addresses, or one address. */
export async function ipReleaseCommand(
  flags: IpReleaseFlags,
  streams: OutputStreams = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  if ((flags.owner === undefined) === (flags.ip === undefined)) {
    throw new IpPoolRequestError(
      "RELEASE_SELECTOR",
      "Say what to release with exactly one of --owner or --ip.",
      {
        hint: "e.g. labgate ip release --owner lab1-web1, or labgate ip release --ip 192.168.3.30",
      },
    );
  }
  if (flags.ip !== undefined && flags.network !== undefined) {
    throw new IpPoolRequestError("RELEASE_SELECTOR", "--network goes with --owner, not with --ip.", {
      hint: "An address identifies its network already: labgate ip release --ip 192.168.3.30",
    });
  }
  const pool = poolFrom(flags);
  const dryRun = Boolean(flags.dryRun);
  const released = await pool.release(
    flags.ip !== undefined
      ? { ip: flags.ip }
      : { owner: flags.owner as string, ...(flags.network === undefined ? {} : { network: flags.network }) },
    { dryRun },
  );
  const count = `${released.length} address${released.length === 1 ? "" : "es"}`;
  out.info(
    dryRun
      ? `Would release ${count}. Dry run: nothing was written to ${pool.statePath}.`
      : `Released ${count}; ${pool.statePath} updated.`,
  );
  out.result(released, formatTable);
  return 0;
}
