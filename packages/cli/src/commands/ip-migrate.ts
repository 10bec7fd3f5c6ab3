import { createOutput, type OutputStreams } from "../output.js";
import { type IpMigrateFlags, poolFrom, required } from "./ip-common.js";

/** `labgate ip migrate --to postgres://...`: moves the file ledger and its audit log into an empty shared one. */
export async function ipMigrateCommand(
  flags: IpMigrateFlags,
  streams: OutputStreams = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const to = required(flags.to, "--to");
  // The source is always the file ledger, whatever LABGATE_LEDGER says.
  const pool = poolFrom({ ...flags, ledger: undefined }, {});
  const moved = await pool.migrateTo(to);
  out.info(
    `Moved ${moved.allocations} address(es), ${moved.conflicts} conflict(s) and ${moved.auditEntries} audit entr${moved.auditEntries === 1 ? "y" : "ies"} ` +
      `from ${pool.statePath} to ${moved.to}. The file is kept as a record and refuses further changes; ` +
      `from now on use --ledger ${moved.to} (or export LABGATE_LEDGER).`,
  );
  out.result(
    moved,
    (m) => `${m.allocations} addresses, ${m.conflicts} conflicts, ${m.auditEntries} audit entries -> ${m.to}`,
  );
  return 0;
}
