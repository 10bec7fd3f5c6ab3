import { type IpAllocation, IpPool, IpPoolRequestError, parseCidr } from "@labgate/core";
import type { Command } from "commander";
import { createOutput, type Output, type OutputStreams } from "../output.js";

/** Flags every `labgate ip` subcommand takes. */
export interface IpCommonFlags {
  config?: string;
  state?: string;
  json?: boolean;
  dryRun?: boolean;
}

export interface IpAllocateFlags extends IpCommonFlags {
  network?: string;
  owner?: string;
}

export interface IpReleaseFlags extends IpCommonFlags {
  owner?: string;
  ip?: string;
  network?: string;
}

export interface IpReserveFlags extends IpCommonFlags {
  ip?: string;
  owner?: string;
  network?: string;
}

export interface IpListFlags extends IpCommonFlags {
  network?: string;
  owner?: string;
}

/** `labgate ip allocate|release|list|reserve`. */
export function registerIpCommands(program: Command): void {
  const ip = program
    .command("ip")
    .description(
      "Static IPv4 addresses for subnets without DHCP: pools from config/ip_pools.json, a ledger beside it.",
    )
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  labgate ip allocate --network 192.168.3.0/24 --owner lab1-web1\n" +
        "  labgate ip allocate --network 192.168.3.0/24 --owner lab1-web1 --json   # for scripts\n" +
        "  labgate ip reserve --ip 192.168.3.35 --owner printer\n" +
        "  labgate ip list\n" +
        "  labgate ip release --owner lab1-web1\n" +
        "\nThe ledger (ip_pools.state.json beside the config, or --state) is written atomically under a lock,\n" +
        "so several labgate processes can allocate at once. Exit codes: 2 bad input, 3 broken ledger,\n" +
        "6 no address left.",
    );

  withCommon(
    ip
      .command("allocate")
      .summary("give an owner an address on a network (the same one again if it already has one)")
      .description(
        "Give an owner an address on a network; an owner that already has one gets it back. " +
          "The lowest free pool address is used; when the pools are full or the network is not configured, " +
          "the highest free usable address of the subnet (.254 in a /24), descending. " +
          "A network that is not configured gets its first usable address as gateway. " +
          "A /31 (RFC 3021 point-to-point) has two usable addresses, the gateway and one host; a /32 has none and is refused.",
      )
      .requiredOption("--network <cidr>", "subnet as CIDR (e.g. 192.168.3.0/24) or a configured network name")
      .requiredOption("--owner <id>", "who holds the address, e.g. a VM or lab name")
      .option("--dry-run", "show the address it would give without recording it"),
  ).action(async (flags: IpAllocateFlags) => {
    process.exitCode = await ipAllocateCommand(flags);
  });

  withCommon(
    ip
      .command("release")
      .summary("give addresses back: all of an owner's, or one address")
      .description("Give addresses back: all of an owner's (optionally on one network), or one address.")
      .option("--owner <id>", "release every address this owner holds")
      .option("--ip <address>", "release this one address")
      .option("--network <cidr>", "with --owner: only on this network")
      .option("--dry-run", "show what would be released without changing the ledger"),
  ).action(async (flags: IpReleaseFlags) => {
    process.exitCode = await ipReleaseCommand(flags);
  });

  withCommon(
    ip
      .command("list")
      .summary("show every recorded address")
      .description("Show every recorded address, lowest first.")
      .option("--network <cidr>", "only this network")
      .option("--owner <id>", "only this owner"),
  ).action(async (flags: IpListFlags) => {
    process.exitCode = await ipListCommand(flags);
  });

  withCommon(
    ip
      .command("reserve")
      .summary("hold one address out of use for an owner")
      .description(
        "Hold one address for an owner so allocate never hands it out (e.g. a hand-configured host).",
      )
      .requiredOption("--ip <address>", "the address to hold")
      .requiredOption("--owner <id>", "who holds it")
      .option("--network <cidr>", "its subnet; needed only when no configured network contains the address")
      .option("--dry-run", "check the reservation without recording it"),
  ).action(async (flags: IpReserveFlags) => {
    process.exitCode = await ipReserveCommand(flags);
  });
}

function withCommon(command: Command): Command {
  return command
    .option("--config <file>", "IP pool config (default: $LABGATE_IP_POOLS or config/ip_pools.json)")
    .option("--state <file>", "ledger file (default: ip_pools.state.json beside the config)")
    .option("--json", "print the result as JSON on stdout");
}

export async function ipAllocateCommand(
  flags: IpAllocateFlags,
  streams: OutputStreams = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const pool = poolFrom(flags);
  const dryRun = Boolean(flags.dryRun);
  const { allocation, created } = await pool.allocateDetailed(
    required(flags.network, "--network"),
    required(flags.owner, "--owner"),
    { dryRun },
  );
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
  if (dryRun && created) out.info(`Dry run: nothing was written to ${pool.statePath}.`);
  else if (created) {
    out.info(`Recorded in ${pool.statePath}. Give it back with: labgate ip release --ip ${allocation.ip}`);
  }
  out.result(allocation, formatAllocationLine);
  return 0;
}

export async function ipReserveCommand(
  flags: IpReserveFlags,
  streams: OutputStreams = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const pool = poolFrom(flags);
  const dryRun = Boolean(flags.dryRun);
  const { allocation, created } = await pool.reserveDetailed(
    required(flags.ip, "--ip"),
    required(flags.owner, "--owner"),
    flags.network,
    { dryRun },
  );
  if (!created) {
    out.info(`${allocation.owner} already holds ${allocation.ip} on ${allocation.network}; nothing changed.`);
  } else if (dryRun) {
    out.info(
      `Would reserve ${allocation.ip} on ${allocation.network} for ${allocation.owner}. Dry run: nothing was written to ${pool.statePath}.`,
    );
  } else {
    out.info(
      `Reserved ${allocation.ip} on ${allocation.network} for ${allocation.owner}; allocate will not hand it out. Recorded in ${pool.statePath}.`,
    );
  }
  out.result(allocation, formatAllocationLine);
  return 0;
}

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

export async function ipListCommand(flags: IpListFlags, streams: OutputStreams = process): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const pool = poolFrom(flags);
  const network = flags.network === undefined ? undefined : await canonicalNetwork(pool, flags.network);
  const all = await pool.list();
  const shown = all.filter(
    (a) =>
      (network === undefined || a.network === network) &&
      (flags.owner === undefined || a.owner === flags.owner),
  );
  describeList(out, shown.length, all.length, pool.statePath);
  out.result(shown, formatTable);
  return 0;
}

async function canonicalNetwork(pool: IpPool, network: string): Promise<string> {
  const config = await pool.config();
  const named = config.networks.find((n) => n.name === network);
  if (named) return named.cidr;
  return parseCidr(network).cidr;
}

function describeList(out: Output, shown: number, total: number, statePath: string): void {
  if (total === 0) out.info(`No addresses recorded yet in ${statePath}.`);
  else if (shown === total) out.info(`${total} address${total === 1 ? "" : "es"} recorded in ${statePath}.`);
  else out.info(`${shown} of ${total} recorded addresses match (ledger: ${statePath}).`);
}

function poolFrom(flags: IpCommonFlags): IpPool {
  return new IpPool({
    ...(flags.config === undefined ? {} : { configPath: flags.config }),
    ...(flags.state === undefined ? {} : { statePath: flags.state }),
  });
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") {
    throw new IpPoolRequestError("MISSING_OPTION", `${flag} is required.`, { hint: `Pass ${flag} <value>.` });
  }
  return value;
}

/** One line a person can paste into a static network config. */
export function formatAllocationLine(a: IpAllocation): string {
  return (
    `${a.ip}/${a.prefix} netmask ${a.netmask} gateway ${a.gateway} dns ${a.dns.join(",") || "-"}` +
    ` owner ${a.owner} source ${a.source}${a.reserved ? " reserved" : ""}`
  );
}

export function formatTable(rows: IpAllocation[]): string {
  if (rows.length === 0) return "";
  const header = ["IP", "NETWORK", "OWNER", "SOURCE", "GATEWAY", "ALLOCATED"];
  const body = rows.map((a) => [
    a.ip,
    a.network,
    a.owner,
    a.reserved ? `${a.source},reserved` : a.source,
    a.gateway,
    a.allocatedAt,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  return [header, ...body]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
