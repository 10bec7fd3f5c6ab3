import type { Command } from "commander";
import { addDeprecatedAlias } from "./flag-alias.js";
import { ipAllocateCommand } from "./ip-allocate.js";
import type {
  IpAllocateFlags,
  IpListFlags,
  IpLogFlags,
  IpMigrateFlags,
  IpProbeFlags,
  IpReconcileFlags,
  IpReleaseFlags,
  IpReserveFlags,
} from "./ip-common.js";
import { ipListCommand } from "./ip-list.js";
import { ipLogCommand } from "./ip-log.js";
import { ipMigrateCommand } from "./ip-migrate.js";
import { ipProbeCommand } from "./ip-probe.js";
import { ipReconcileCommand } from "./ip-reconcile.js";
import { ipReleaseCommand } from "./ip-release.js";
import { ipReserveCommand } from "./ip-reserve.js";
import { LXD_SOCKET_HELP } from "./lxd-socket-help.js";

/** `labgate ip allocate|release|list|reserve|probe|log`. */
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
        "  labgate ip probe --network 192.168.3.0/24   # which pool addresses answer on the wire\n" +
        "  labgate ip log --owner lab1-web1 --since 7d\n" +
        "\nThe ledger (ip_pools.state.json beside the config, or --ip-state) is written atomically under a lock,\n" +
        "so several labgate processes can allocate at once; every change is appended to its audit log\n" +
        "(ip_pools.state.audit.jsonl). Exit codes: 2 bad input, 3 broken ledger, 4 probe tool missing,\n" +
        "5 probe failed, 6 no address left.",
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
      .option(
        "--probe",
        'check each candidate on the wire first (default): ARP on a directly attached subnet, else ping; the network\'s "probe" config decides',
      )
      .option("--no-probe", "trust the ledger alone; send nothing on the network")
      .option("--dry-run", "show the address it would give without probing or recording it"),
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
  withCommon(
    ip
      .command("probe")
      .summary("list which pool addresses of a network answer on the wire (records nothing)")
      .description(
        "Probe every pool address of a network - ARP (RFC 5227, sender 0.0.0.0, via arping -D) on a directly " +
          'attached subnet, else ping, or as the network\'s "probe" config says - and list what answered, ' +
          "with what the ledger records for it. Addresses that answer but are free in the ledger are in use by " +
          "something labgate does not know.",
      )
      .requiredOption("--network <cidr>", "a configured network (CIDR or name)")
      .option("--method <arp|ping>", "override the network's probe method"),
  ).action(async (flags: IpProbeFlags) => {
    process.exitCode = await ipProbeCommand(flags);
  });

  withCommon(
    ip
      .command("log")
      .summary("show the audit log: every allocate, reserve, release and conflict")
      .description(
        "Show the audit log beside the ledger, oldest first: time, who (user@host:pid), command, action, " +
          "address, owner, source and reason of every change.",
      )
      .option("--owner <id>", "only this owner")
      .option("--ip <address>", "only this address")
      .option(
        "--since <time>",
        "only changes since an ISO-8601 time or a duration back from now (15m, 2h, 7d)",
      ),
  ).action(async (flags: IpLogFlags) => {
    process.exitCode = await ipLogCommand(flags);
  });
  withCommon(
    ip
      .command("reconcile")
      .summary(
        "compare the ledger with what a platform really uses; --fix releases leaks and records unknowns",
      )
      .description(
        "Compare the ledger with the addresses a platform's instances use (lxd: running instances, NIC " +
          "ipv4.address and cloud-init network-config; opennebula: NIC IPs of every VM not DONE and every " +
          "vnet lease, holds included; proxmox: ipconfigN ip= of every VM on --node; local: this machine's " +
          "interfaces): leaked (recorded, " +
          "nothing uses it; reserved entries are never called leaked), unknown (used, not recorded), " +
          "mismatched (used by an instance the ledger owner does not name). Exit 1 when anything differs. " +
          "--fix, after a yes, releases the leaked and reserves the unknown for their instance; mismatched " +
          "owners are left for a person to decide.",
      )
      .option("--platform <name>", "lxd, opennebula, proxmox or local; default: the --lab's provider")
      .option("--lab <spec>", "a lab spec (lab.yaml): compare on its subnet; its provider is the platform")
      .option(
        "--network <cidr>",
        "only this network (repeatable; default: every configured network and every network in the ledger)",
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option("--socket <path>", LXD_SOCKET_HELP)
      .option(
        "--endpoint <url>",
        "OpenNebula XML-RPC endpoint (default $ONE_XMLRPC or the --lab's; session from ONE_SESSION/ONE_AUTH)",
      )
      .option("--url <url>", "Proxmox API URL (default $PROXMOX_URL; token from PROXMOX_TOKEN_ID/_SECRET)")
      .option(
        "--node <name>",
        "Proxmox node whose VMs are read (repeatable; default $PROXMOX_NODE)",
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option("--insecure-tls", "Proxmox: accept a self-signed certificate")
      .option("--fix", "release leaked addresses and record unknown ones, after a confirmation")
      .option("-y, --yes", "with --fix: do not ask"),
  ).action(async (flags: IpReconcileFlags) => {
    process.exitCode = await ipReconcileCommand(flags);
  });
  withCommon(
    ip
      .command("migrate")
      .summary("move the file ledger and its audit log into an empty PostgreSQL ledger")
      .description(
        "Copy the file ledger (--ip-state, or the default beside the config) and its audit log into an empty " +
          "PostgreSQL ledger in one transaction, then mark the file as moved so it refuses further changes.",
      )
      .requiredOption("--to <url>", "the shared ledger, postgres://user@host/db"),
  ).action(async (flags: IpMigrateFlags) => {
    process.exitCode = await ipMigrateCommand(flags);
  });
}

/** The same pool flags `deploy` takes; `--config`/`--state` were their names here before. */
function withCommon(command: Command): Command {
  command
    .option("--ip-pools <file>", "IP pool config (default: $LABGATE_IP_POOLS or config/ip_pools.json)")
    .option("--ip-state <file>", "ledger file (default: ip_pools.state.json beside the config)");
  addDeprecatedAlias(command, "--config", "--ip-pools", "file");
  addDeprecatedAlias(command, "--state", "--ip-state", "file");
  return command
    .option(
      "--ledger <url>",
      "a ledger shared in PostgreSQL, postgres://user@host/db (default: $LABGATE_LEDGER, else the file)",
    )
    .option("--json", "print the result as JSON on stdout");
}
