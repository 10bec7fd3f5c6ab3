import { SubnetExhaustedError } from "../errors.js";
import { subnetContains } from "./cidr.js";
import { parseIpv4 } from "./ipv4.js";
import type { IpLedger } from "./ledger.js";
import type { NetworkView } from "./network-view.js";

/** SUBNET_EXHAUSTED, with where every usable address of the subnet went so the user knows what to free. */
export function subnetExhausted(view: NetworkView, ledger: IpLedger): SubnetExhaustedError {
  const { subnet } = view;
  const recorded = ledger.allocations.filter((a) => subnetContains(subnet, parseIpv4(a.ip)));
  const reserved = recorded.filter((a) => a.reserved).length;
  const allocated = recorded.length - reserved;
  const recordedSet = new Set(recorded.map((a) => parseIpv4(a.ip)));
  let blocked = 0;
  for (let address = subnet.firstUsable; address <= subnet.lastUsable; address++) {
    if (!recordedSet.has(address) && view.isBlocked(address)) blocked++;
  }
  const parts = [
    `${allocated} allocated`,
    `${reserved} reserved`,
    `${blocked} gateway, DNS or excluded`,
  ].join(", ");
  return new SubnetExhaustedError(
    `No usable address is left in ${subnet.cidr}: its ${subnet.usableCount} usable ` +
      `address${subnet.usableCount === 1 ? " is" : "es are"} all taken (${parts}).`,
    {
      hint: "Release addresses that are no longer used (labgate ip release --owner ID), or use a larger subnet.",
      details: { network: subnet.cidr, usable: subnet.usableCount, allocated, reserved, blocked },
    },
  );
}
