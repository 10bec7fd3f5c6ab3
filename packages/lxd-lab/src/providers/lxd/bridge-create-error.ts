import { LxdApiError, PreconditionError } from "@labgate/core";

/** Host programs LXD runs for every managed bridge, with the Debian package that provides each. */
const HOST_TOOLS: { pattern: RegExp; tool: string; fix: string }[] = [
  {
    // LXD checks `dnsmasq --version` for every bridge, even with ipv4.dhcp=false.
    pattern: /dnsmasq/i,
    tool: "dnsmasq",
    fix: "apt-get install -y dnsmasq-base   (the snap bundles it; the Debian lxd package only recommends it)",
  },
  {
    pattern: /(iptables|ip6tables|ebtables|nft)\b.*(not found|no such file)/i,
    tool: "iptables",
    fix: "apt-get install -y iptables",
  },
];

/**
 * LXD's 500 for a bridge it cannot set up because a host program is missing, turned into a
 * precondition failure whose message carries the install command (the lab engine shows the
 * message, not the hint). Any other error is returned unchanged.
 */
export function explainBridgeCreateError(error: unknown, bridge: string): unknown {
  if (!(error instanceof LxdApiError)) return error;
  const missing = HOST_TOOLS.find((t) => t.pattern.test(error.message));
  if (!missing) return error;
  return new PreconditionError(
    "LXD_HOST_TOOL_MISSING",
    `LXD cannot create the bridge ${bridge}: the host has no ${missing.tool} (${error.message}). fix: ${missing.fix}, then run \`labgate lab up\` again.`,
    { cause: error, hint: missing.fix, details: { tool: missing.tool } },
  );
}
