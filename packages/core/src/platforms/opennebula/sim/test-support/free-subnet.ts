import { execFileSync } from "node:child_process";
import type { LxdClient } from "../../../lxd/lxd-client.js";

/**
 * A 10.<a>.<b>.0/24 that no route on this machine and no LXD network uses, for a test's own bridge. Random,
 * so concurrent suites rarely pick the same; LXD refuses a duplicate address, which fails the test loudly.
 */
export async function freeTestSubnet(client: LxdClient): Promise<{ prefix: string; gateway: string }> {
  const routes = execFileSync("ip", ["-4", "route", "show", "table", "all"], { encoding: "utf8" });
  const lxd = (await client.listNetworks()).map((n) => n.config["ipv4.address"] ?? "").join("\n");
  for (let attempt = 0; attempt < 200; attempt++) {
    const a = 180 + Math.floor(Math.random() * 60);
    const b = Math.floor(Math.random() * 250) + 1;
    const prefix = `10.${a}.${b}`;
    if (routes.includes(`${prefix}.`) || lxd.includes(`${prefix}.`)) continue;
    return { prefix, gateway: `${prefix}.1` };
  }
  throw new Error("no free 10.x.y.0/24 for a test bridge");
}
