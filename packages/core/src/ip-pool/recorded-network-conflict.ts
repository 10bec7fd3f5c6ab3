import { IpPoolRequestError } from "../errors.js";
import { parseCidr, subnetsOverlap } from "./cidr.js";
import type { IpLedger } from "./ledger.js";
import type { NetworkView } from "./network-view.js";

/**
 * Refuses a subnet that overlaps, without being, a subnet the ledger already holds addresses on
 * (10.0.0.0/16 after 10.0.0.0/24 was used, say). Hosts of both would disagree about the prefix and
 * the gateway; the config check cannot see this because unconfigured subnets live only in the ledger.
 */
export function assertNoOverlappingRecordedNetwork(
  view: NetworkView,
  ledger: IpLedger,
  stateSource: string,
): void {
  const clash = ledger.allocations.find(
    (a) => a.network !== view.subnet.cidr && subnetsOverlap(parseCidr(a.network), view.subnet),
  );
  if (!clash) return;
  const holders = ledger.allocations.filter((a) => a.network === clash.network);
  throw new IpPoolRequestError(
    "NETWORK_CONFLICT",
    `${view.subnet.cidr} overlaps ${clash.network}, on which ${stateSource} already records ` +
      `${holders.length} address${holders.length === 1 ? "" : "es"} (${clash.ip} for "${clash.owner}" ...).`,
    {
      hint:
        `Use --network ${clash.network} if that is the subnet, or release its addresses first ` +
        `(labgate ip list --network ${clash.network}; labgate ip release --ip ...).`,
      details: { network: view.subnet.cidr, recorded: clash.network, addresses: holders.length },
    },
  );
}
