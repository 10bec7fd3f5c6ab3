import { IpLedgerError } from "../errors.js";
import { parseCidr, subnetContains } from "./cidr.js";
import { parseIpv4 } from "./ipv4.js";
import type { IpLedger } from "./ledger.js";
import { quoteOwner } from "./owner.js";
import type { IpAllocation, IpPoolConfig } from "./types.js";

/**
 * Checks what a hand edit (or an older labgate) could have put into the ledger against the config:
 * an entry on its network's gateway, a gateway outside the entry's subnet, an address filed under
 * another subnet than the configured network that contains it. Such an entry would be handed back
 * to its owner as is, so it stops every change until someone fixes it (exit 3, naming the entry).
 */
export function assertLedgerMatchesConfig(ledger: IpLedger, config: IpPoolConfig, path: string): void {
  ledger.allocations.forEach((entry, index) => {
    const problem = entryProblem(entry, config);
    if (problem) throw mismatch(path, index, entry, problem);
  });
}

function entryProblem(entry: IpAllocation, config: IpPoolConfig): string | undefined {
  const subnet = parseCidr(entry.network);
  const ip = parseIpv4(entry.ip);
  const gateway = parseIpv4(entry.gateway);
  if (!subnetContains(subnet, gateway)) return `its gateway ${entry.gateway} is outside ${subnet.cidr}`;
  if (gateway === ip) return `${entry.ip} is recorded as its own gateway`;
  const home = config.networks.find((n) => subnetContains(parseCidr(n.cidr), ip));
  if (home === undefined) return undefined;
  if (home.cidr !== subnet.cidr) {
    return `${entry.ip} is filed under ${subnet.cidr}, but the config puts it in ${home.cidr}`;
  }
  if (parseIpv4(home.gateway) === ip) return `${entry.ip} is the gateway of ${home.cidr} in the config`;
  return undefined;
}

function mismatch(path: string, index: number, entry: IpAllocation, problem: string): IpLedgerError {
  return new IpLedgerError(
    "LEDGER_CONFLICTS_WITH_CONFIG",
    `The IP ledger ${path} is broken at allocations[${index}] (${entry.ip}, owner ${quoteOwner(entry.owner)}): ${problem}.`,
    {
      hint: `Fix or remove that entry by hand (or correct the config), then run the command again; labgate will not hand out or change addresses while the ledger disagrees with the config.`,
      details: { path, field: `allocations[${index}]`, entry },
    },
  );
}
