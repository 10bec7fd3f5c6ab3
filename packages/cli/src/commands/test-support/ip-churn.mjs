// Allocates and releases one owner's address in a tight loop through the compiled IpPool, so that
// a SIGKILL sent at a random moment most likely lands inside the ledger lock, often mid-write.
// Usage: node ip-churn.mjs CONFIG STATE NETWORK OWNER   (prints "progress N" after each allocation)
// The module itself rather than the @labgate/core barrel, whose cloud SDKs take seconds to load:
// the sooner a restarted churner runs, the more kills land where they matter.
import { IpPool } from "../../../../core/dist/ip-pool/ip-pool.js";

const [configPath, statePath, network, owner] = process.argv.slice(2);
const pool = new IpPool({ configPath, statePath, lockTimeoutMs: 60_000 });
for (let round = 1; ; round++) {
  await pool.allocate(network, owner);
  process.stdout.write(`progress ${round}\n`);
  await pool.release({ owner });
}
