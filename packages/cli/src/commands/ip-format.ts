import { type IpAllocation, textTable } from "@labgate/core";

/** One line a person can paste into a static network config. */
export function formatAllocationLine(a: IpAllocation): string {
  return (
    `${a.ip}/${a.prefix} netmask ${a.netmask} gateway ${a.gateway} dns ${a.dns.join(",") || "-"}` +
    ` owner ${a.owner} source ${a.source}${a.reserved ? " reserved" : ""}`
  );
}

export function formatTable(rows: IpAllocation[]): string {
  const header = ["IP", "NETWORK", "OWNER", "SOURCE", "GATEWAY", "ALLOCATED"];
  const body = rows.map((a) => [
    a.ip,
    a.network,
    a.owner,
    a.reserved ? `${a.source},reserved` : a.source,
    a.gateway,
    a.allocatedAt,
  ]);
  return formatColumns(header, body);
}

/** Left-aligned columns two spaces apart, as `docker ps` or `lxc list --format compact` print them; "" for no rows. */
/** The ip commands' listings: every column left-aligned, no rule under the header, nothing when there are no rows. */
export function formatColumns(header: string[], rows: string[][]): string {
  return rows.length === 0 ? "" : textTable(header, rows, { align: "left", rule: false });
}
