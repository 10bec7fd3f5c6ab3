import { networkInterfaces } from "node:os";
import { execa } from "execa";
import { IpProbeError } from "../errors.js";
import { parseCidr, subnetContains } from "./cidr.js";
import { parseIpv4 } from "./ipv4.js";
import type { ProbeMethod } from "./types.js";

export interface ProbeTarget {
  ip: string;
  /** Canonical CIDR of the subnet the address belongs to. */
  network: string;
  method: Exclude<ProbeMethod, "none">;
  /** For ARP: the local interface attached to the subnet. */
  interface?: string;
}

/** What answered: the MAC of an ARP reply, or an ICMP echo reply. */
export interface ProbeAnswer {
  via: "arp" | "ping";
  mac?: string;
}

/** Returns what answered for the address, or undefined when nothing did within the timeout. */
export type AddressProbe = (target: ProbeTarget) => Promise<ProbeAnswer | undefined>;

/** Short on purpose: every free candidate costs one full timeout while the ledger lock is held. */
export const DEFAULT_PROBE_TIMEOUT_S = 1;

/**
 * The method for a network: what the config says, else ARP when this machine has an interface on
 * the subnet (an ARP request reaches every host there, even one that drops ICMP), else ping.
 */
export function probePlan(
  cidr: string,
  configured: ProbeMethod | undefined,
  interfaces = localIpv4Interfaces(),
): { method: ProbeMethod; interface?: string } {
  const subnet = parseCidr(cidr);
  const attached = interfaces.find((i) => subnetContains(subnet, parseIpv4(i.address)));
  const method = configured ?? (attached ? "arp" : "ping");
  if (method === "arp" && attached) return { method, interface: attached.name };
  return { method };
}

export function localIpv4Interfaces(): { name: string; address: string }[] {
  return Object.entries(networkInterfaces()).flatMap(([name, infos]) =>
    (infos ?? [])
      .filter((i) => i.family === "IPv4" && !i.internal)
      .map((i) => ({ name, address: i.address })),
  );
}

/**
 * Probes with Debian's iputils tools: `arping -D` is RFC 5227 duplicate address detection (sender
 * address 0.0.0.0, so no neighbour's ARP cache learns a binding for an address we do not hold yet;
 * exit 1 when something answered), `ping` one echo request.
 */
export function systemProbe(timeoutS = DEFAULT_PROBE_TIMEOUT_S): AddressProbe {
  return async (target) => {
    if (target.method === "arp") {
      if (target.interface === undefined) {
        throw new IpProbeError(
          "PROBE_NO_INTERFACE",
          `Cannot probe ${target.ip} by ARP: no interface of this machine is on ${target.network}.`,
          {
            hint: 'ARP only reaches a directly attached subnet; set "probe": "ping" (or "none") for this network in the IP pool config.',
            details: { ip: target.ip, network: target.network },
          },
        );
      }
      const args = ["-D", "-I", target.interface, "-c", "2", "-w", String(timeoutS), target.ip];
      const run = await runTool("arping", args, timeoutS);
      if (run.exitCode === 0) return undefined;
      const mac = /\[([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\]/.exec(run.stdout)?.[1];
      if (run.exitCode === 1 && mac) return { via: "arp", mac: mac.toLowerCase() };
      throw toolFailed("arping", args, run);
    }
    const args = ["-n", "-q", "-c", "1", "-W", String(timeoutS), target.ip];
    const run = await runTool("ping", args, timeoutS);
    if (run.exitCode === 0) return { via: "ping" };
    if (run.exitCode === 1) return undefined;
    throw toolFailed("ping", args, run);
  };
}

interface ToolRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

async function runTool(tool: string, args: string[], timeoutS: number): Promise<ToolRun> {
  const r = await execa(tool, args, { reject: false, timeout: (timeoutS + 5) * 1000, stdin: "ignore" });
  const missing = (r as { code?: string }).code === "ENOENT";
  if (!missing)
    return { exitCode: r.exitCode, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  throw new IpProbeError("PROBE_TOOL_MISSING", `Cannot probe addresses: ${tool} is not installed.`, {
    cause: r,
    hint: `Install it (Debian: apt-get install ${tool === "arping" ? "iputils-arping" : "iputils-ping"}), or skip probing with --no-probe or "probe": "none" in the IP pool config.`,
    details: { tool },
  });
}

function toolFailed(tool: string, args: string[], run: ToolRun): IpProbeError {
  const said = (run.stderr || run.stdout).trim().split("\n").slice(-3).join(" / ");
  return new IpProbeError(
    "PROBE_FAILED",
    `${tool} ${args.join(" ")} failed (exit ${run.exitCode ?? "none"}): ${said || "no output"}`,
    {
      hint:
        tool === "arping"
          ? "arping needs CAP_NET_RAW (run as root or give /usr/bin/arping the capability); or use --no-probe."
          : "ping needs permission to send ICMP (net.ipv4.ping_group_range or CAP_NET_RAW); or use --no-probe.",
      details: { tool, args, exitCode: run.exitCode },
    },
  );
}
