import { readFile } from "node:fs/promises";
import { IpPoolConfigError } from "../errors.js";
import { parseCidr, type Subnet, subnetContains, subnetsOverlap } from "./cidr.js";
import { parseIpv4 } from "./ipv4.js";
import type { IpNetworkConfig, IpPoolConfig, IpRange, ProbeMethod } from "./types.js";

const NETWORK_KEYS = new Set(["name", "cidr", "gateway", "dns", "dhcp", "pools", "exclude", "probe"]);
const PROBE_METHODS: readonly ProbeMethod[] = ["arp", "ping", "none"];
const PROBE_HELP = `${PROBE_METHODS.map((m) => `"${m}"`).join(", ")} (default: "arp" on a directly attached subnet, else "ping")`;

function isProbeMethod(value: unknown): value is ProbeMethod {
  return PROBE_METHODS.includes(value as ProbeMethod);
}
const TOP_KEYS = new Set(["networks", "defaultDns", "probe"]);

/** Reads and validates an IP pool config file; every problem names the file, network and field. */
export async function loadIpPoolConfig(path: string): Promise<IpPoolConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new IpPoolConfigError(
      missing ? "CONFIG_NOT_FOUND" : "CONFIG_UNREADABLE",
      missing
        ? `The IP pool config ${path} does not exist.`
        : `Cannot read ${path}: ${(error as Error).message}`,
      {
        cause: error,
        hint: missing
          ? "Pass --ip-pools <file> (or set LABGATE_IP_POOLS), or create it from the shipped config/ip_pools.json."
          : "Check the file's permissions.",
        details: { file: path },
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new IpPoolConfigError("CONFIG_NOT_JSON", `${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
      hint: "Fix the JSON syntax (a trailing comma or a missing quote is the usual cause).",
      details: { file: path },
    });
  }
  return validateIpPoolConfig(raw, path);
}

/**
 * Checks a parsed config: addresses, prefixes, host bits, gateways inside their subnet, pools
 * inside their subnet and in order, no overlapping pools or networks. Returns a normalised copy.
 */
export function validateIpPoolConfig(raw: unknown, source: string): IpPoolConfig {
  const top = (field: string, code: string, message: string): IpPoolConfigError =>
    configError(source, undefined, field, code, message);
  if (!isObject(raw))
    throw top("(root)", "CONFIG_INVALID", 'the file must hold a JSON object with a "networks" list');
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.has(key) && !isCommentKey(key)) {
      throw top(key, "CONFIG_UNKNOWN_FIELD", `unknown field (known: ${[...TOP_KEYS].join(", ")})`);
    }
  }
  if (!Array.isArray(raw.networks)) throw top("networks", "CONFIG_INVALID", "must be a list of networks");
  const defaultDns =
    raw.defaultDns === undefined
      ? undefined
      : addressList(raw.defaultDns, (code, message) => top("defaultDns", code, message));

  if (raw.probe !== undefined && !isProbeMethod(raw.probe)) {
    throw top("probe", "CONFIG_INVALID", `must be one of ${PROBE_HELP}`);
  }
  const networks: IpNetworkConfig[] = [];
  const subnets: Subnet[] = [];
  raw.networks.forEach((entry, index) => {
    const { network, subnet } = validateNetwork(entry, index, source);
    subnets.forEach((other, otherIndex) => {
      if (subnetsOverlap(subnet, other)) {
        throw configError(
          source,
          network.cidr,
          "cidr",
          "OVERLAPPING_NETWORKS",
          `overlaps networks[${otherIndex}] ${other.cidr}; every address must belong to one network only`,
        );
      }
    });
    const clash = networks.find((n) => n.name !== undefined && n.name === network.name);
    if (clash) {
      throw configError(
        source,
        network.cidr,
        "name",
        "DUPLICATE_NETWORK_NAME",
        `name "${network.name}" is also used by ${clash.cidr}`,
      );
    }
    networks.push(network);
    subnets.push(subnet);
  });
  return {
    networks,
    ...(defaultDns === undefined ? {} : { defaultDns }),
    ...(raw.probe === undefined ? {} : { probe: raw.probe as ProbeMethod }),
  };
}

function validateNetwork(
  entry: unknown,
  index: number,
  source: string,
): { network: IpNetworkConfig; subnet: Subnet } {
  const label = `networks[${index}]`;
  if (!isObject(entry)) throw configError(source, label, "(entry)", "CONFIG_INVALID", "must be an object");
  const networkLabel = typeof entry.cidr === "string" ? entry.cidr : label;
  const fail = (field: string, code: string, message: string): IpPoolConfigError =>
    configError(source, networkLabel, field, code, message);

  for (const key of Object.keys(entry)) {
    if (!NETWORK_KEYS.has(key) && !isCommentKey(key)) {
      throw fail(key, "CONFIG_UNKNOWN_FIELD", `unknown field (known: ${[...NETWORK_KEYS].join(", ")})`);
    }
  }
  if (typeof entry.cidr !== "string") throw fail("cidr", "CONFIG_INVALID", 'required, e.g. "192.168.3.0/24"');
  const subnet = wrap(() => parseCidr(entry.cidr as string), "cidr", fail);
  if (subnet.prefix === 32) {
    throw fail(
      "cidr",
      "NETWORK_TOO_SMALL",
      "a /32 has no address left for hosts besides the gateway; use /30 or larger (or a /31)",
    );
  }

  let name: string | undefined;
  if (entry.name !== undefined) {
    if (typeof entry.name !== "string" || !/^[A-Za-z][A-Za-z0-9_.-]{0,62}$/.test(entry.name)) {
      throw fail(
        "name",
        "CONFIG_INVALID",
        "must start with a letter and use only letters, digits, '.', '_' and '-'",
      );
    }
    name = entry.name;
  }

  if (typeof entry.gateway !== "string")
    throw fail("gateway", "CONFIG_INVALID", 'required, e.g. "192.168.3.1"');
  const gateway = wrap(() => parseIpv4(entry.gateway as string), "gateway", fail);
  if (!subnetContains(subnet, gateway)) {
    throw fail("gateway", "GATEWAY_OUTSIDE_SUBNET", `${entry.gateway} is not inside ${subnet.cidr}`);
  }
  if (gateway < subnet.firstUsable || gateway > subnet.lastUsable) {
    throw fail(
      "gateway",
      "GATEWAY_NOT_USABLE",
      `${entry.gateway} is the network or broadcast address of ${subnet.cidr}`,
    );
  }

  if (entry.dns === undefined)
    throw fail("dns", "CONFIG_INVALID", 'required: a list of DNS servers, e.g. ["8.8.8.8"]');
  const dns = addressList(entry.dns, (code, message) => fail("dns", code, message));

  if (typeof entry.dhcp !== "boolean")
    throw fail("dhcp", "CONFIG_INVALID", "required: true or false (false for on-prem subnets without DHCP)");

  if (!Array.isArray(entry.pools))
    throw fail("pools", "CONFIG_INVALID", 'required: a list of {"start","end"} ranges (may be empty)');
  const pools: IpRange[] = [];
  const poolNumbers: [number, number][] = [];
  entry.pools.forEach((pool, i) => {
    const field = `pools[${i}]`;
    const [start, end] = range(pool, field, subnet, fail, "POOL_OUTSIDE_SUBNET");
    const overlapping = poolNumbers.findIndex(([s, e]) => start <= e && s <= end);
    if (overlapping >= 0) {
      throw fail(
        field,
        "OVERLAPPING_POOLS",
        `overlaps pools[${overlapping}]; each address may be in one pool only`,
      );
    }
    poolNumbers.push([start, end]);
    pools.push({ start: (pool as IpRange).start, end: (pool as IpRange).end });
  });

  let exclude: (string | IpRange)[] | undefined;
  if (entry.exclude !== undefined) {
    if (!Array.isArray(entry.exclude))
      throw fail("exclude", "CONFIG_INVALID", "must be a list of addresses or {start,end} ranges");
    exclude = entry.exclude.map((item, i) => {
      const field = `exclude[${i}]`;
      if (typeof item === "string") {
        const address = wrap(() => parseIpv4(item), field, fail);
        if (!subnetContains(subnet, address)) {
          throw fail(field, "EXCLUDE_OUTSIDE_SUBNET", `${item} is not inside ${subnet.cidr}`);
        }
        return item;
      }
      range(item, field, subnet, fail, "EXCLUDE_OUTSIDE_SUBNET");
      return { start: (item as IpRange).start, end: (item as IpRange).end };
    });
  }

  if (entry.probe !== undefined && !isProbeMethod(entry.probe)) {
    throw fail("probe", "CONFIG_INVALID", `must be one of ${PROBE_HELP}`);
  }

  const network: IpNetworkConfig = {
    ...(name === undefined ? {} : { name }),
    cidr: subnet.cidr,
    gateway: entry.gateway,
    dns,
    dhcp: entry.dhcp,
    pools,
    ...(exclude === undefined ? {} : { exclude }),
    ...(entry.probe === undefined ? {} : { probe: entry.probe as ProbeMethod }),
  };
  return { network, subnet };
}

function range(
  value: unknown,
  field: string,
  subnet: Subnet,
  fail: (field: string, code: string, message: string) => IpPoolConfigError,
  outsideCode: string,
): [number, number] {
  if (!isObject(value) || typeof value.start !== "string" || typeof value.end !== "string") {
    throw fail(field, "CONFIG_INVALID", 'must be {"start": "a.b.c.d", "end": "a.b.c.d"}');
  }
  const start = wrap(() => parseIpv4(value.start as string), `${field}.start`, fail);
  const end = wrap(() => parseIpv4(value.end as string), `${field}.end`, fail);
  for (const [which, address, text] of [
    ["start", start, value.start],
    ["end", end, value.end],
  ] as const) {
    if (address < subnet.firstUsable || address > subnet.lastUsable) {
      const where = subnetContains(subnet, address)
        ? `is the network or broadcast address of ${subnet.cidr}`
        : `is outside ${subnet.cidr}`;
      throw fail(`${field}.${which}`, outsideCode, `${text} ${where}`);
    }
  }
  if (start > end) {
    throw fail(
      field,
      outsideCode === "POOL_OUTSIDE_SUBNET" ? "POOL_REVERSED" : "EXCLUDE_REVERSED",
      `start ${value.start} is after end ${value.end}; swap them`,
    );
  }
  return [start, end];
}

function addressList(value: unknown, fail: (code: string, message: string) => IpPoolConfigError): string[] {
  if (!Array.isArray(value))
    throw fail("CONFIG_INVALID", 'must be a list of addresses, e.g. ["8.8.8.8", "8.8.4.4"]');
  return value.map((item, i) => {
    if (typeof item !== "string") throw fail("CONFIG_INVALID", `entry ${i} must be an address string`);
    try {
      parseIpv4(item);
    } catch (error) {
      throw fail("INVALID_ADDRESS", `entry ${i}: ${(error as Error).message}`);
    }
    return item;
  });
}

function wrap<T>(
  fn: () => T,
  field: string,
  fail: (field: string, code: string, message: string) => IpPoolConfigError,
): T {
  try {
    return fn();
  } catch (error) {
    const code = (error as { code?: string }).code ?? "CONFIG_INVALID";
    const failure = fail(field, code, (error as Error).message);
    // Keep the specific advice of the address error ("Use the network address: ...").
    const inner = (error as { hint?: unknown }).hint;
    Object.assign(failure, {
      cause: error,
      ...(typeof inner === "string" ? { hint: `${inner} (${field} in ${failure.details?.file})` } : {}),
    });
    throw failure;
  }
}

function configError(
  file: string,
  network: string | undefined,
  field: string,
  code: string,
  message: string,
): IpPoolConfigError {
  const where = network === undefined ? `field "${field}"` : `network ${network}, field "${field}"`;
  return new IpPoolConfigError(code, `${file}: ${where}: ${message}.`.replace(/\.\.$/, "."), {
    hint: `Fix ${field} in ${file} and run the command again.`,
    details: { file, ...(network === undefined ? {} : { network }), field },
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCommentKey(key: string): boolean {
  return key.startsWith("$") || key.startsWith("_") || key === "comment";
}
