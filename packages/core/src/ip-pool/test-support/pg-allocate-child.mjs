// Allocates N addresses for OWNER-PREFIX-i through the compiled IpPool against a PostgreSQL ledger
// and prints each as "ip OWNER ADDRESS". Usage: node pg-allocate-child.mjs CONFIG URL NETWORK PREFIX N
// The module itself rather than the barrel, whose cloud SDKs take seconds to load.
import { IpPool } from "../../../dist/ip-pool/ip-pool.js";

const [configPath, url, network, prefix, count] = process.argv.slice(2);
const pool = new IpPool({ configPath, ledger: url, lockTimeoutMs: 60_000 });
for (let i = 0; i < Number(count); i++) {
  const owner = `${prefix}-${i}`;
  const a = await pool.allocate(network, owner);
  process.stdout.write(`ip ${owner} ${a.ip}\n`);
}
