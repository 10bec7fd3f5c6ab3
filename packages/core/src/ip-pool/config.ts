import { readFile } from "node:fs/promises";
import { IpPoolConfigError } from "../errors.js";
import { parseCidr, type Subnet, subnetContains, subnetsOverlap } from "./cidr.js";
import { ipPoolConfigSchema, isCommentKey, poolSchemaProblem } from "./config-schema.js";
import { parseIpv4 } from "./ipv4.js";
import type { IpNetworkConfig, IpPoolConfig, IpRange } from "./types.js";

type NetworkDocument = IpPoolConfig["networks"][number];
/** Codes come from the schema, config.ts and the address parser; the error class owns the list. */
type ConfigCode = ConstructorParameters<typeof IpPoolConfigError>[0];

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
  // The schema (config-schema.ts) checks every field's shape; the addresses are checked below.
  const parsed = ipPoolConfigSchema.safeParse(withoutNotes(raw));
  if (!parsed.success) {
    const problem = poolSchemaProblem(parsed.error);
    const index = problem?.networkIndex;
    const entry = index === undefined ? undefined : (raw["networks"] as unknown[])[index];
    const network =
      index === undefined
        ? undefined
        : isObject(entry) && typeof entry["cidr"] === "string"
          ? entry["cidr"]
          : `networks[${index}]`;
    throw configError(
      source,
      network,
      problem?.field ?? "(root)",
      problem?.code ?? "CONFIG_INVALID",
      problem?.message ?? parsed.error.message,
    );
  }
  const doc = parsed.data;
  const defaultDns =
    doc.defaultDns === undefined
      ? undefined
      : addressList(doc.defaultDns, (code, message) => top("defaultDns", code, message));

  const networks: IpNetworkConfig[] = [];
  const subnets: Subnet[] = [];
  doc.networks.forEach((entry) => {
    const { network, subnet } = validateNetwork(entry, source);
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
    ...(doc.probe === undefined ? {} : { probe: doc.probe }),
  };
}

function validateNetwork(
  entry: NetworkDocument,
  source: string,
): { network: IpNetworkConfig; subnet: Subnet } {
  const fail = (field: string, code: string, message: string): IpPoolConfigError =>
    configError(source, entry.cidr, field, code, message);

  const subnet = wrap(() => parseCidr(entry.cidr), "cidr", fail);
  if (subnet.prefix === 32) {
    throw fail(
      "cidr",
      "NETWORK_TOO_SMALL",
      "a /32 has no address left for hosts besides the gateway; use /30 or larger (or a /31)",
    );
  }

  const gateway = wrap(() => parseIpv4(entry.gateway), "gateway", fail);
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

  const dns = addressList(entry.dns, (code, message) => fail("dns", code, message));

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
    pools.push({ start: pool.start, end: pool.end });
  });

  let exclude: (string | IpRange)[] | undefined;
  if (entry.exclude !== undefined) {
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
      return { start: item.start, end: item.end };
    });
  }

  const network: IpNetworkConfig = {
    ...(entry.name === undefined ? {} : { name: entry.name }),
    cidr: subnet.cidr,
    gateway: entry.gateway,
    dns,
    dhcp: entry.dhcp,
    pools,
    ...(exclude === undefined ? {} : { exclude }),
    ...(entry.probe === undefined ? {} : { probe: entry.probe }),
  };
  return { network, subnet };
}

function range(
  value: IpRange,
  field: string,
  subnet: Subnet,
  fail: (field: string, code: string, message: string) => IpPoolConfigError,
  outsideCode: string,
): [number, number] {
  const start = wrap(() => parseIpv4(value.start), `${field}.start`, fail);
  const end = wrap(() => parseIpv4(value.end), `${field}.end`, fail);
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

function addressList(
  value: readonly string[],
  fail: (code: string, message: string) => IpPoolConfigError,
): string[] {
  return value.map((item, i) => {
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
  return new IpPoolConfigError(code as ConfigCode, `${file}: ${where}: ${message}.`.replace(/\.\.$/, "."), {
    hint: `Fix ${field} in ${file} and run the command again.`,
    details: { file, ...(network === undefined ? {} : { network }), field },
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The document without its notes ($comment, _why ...): the schema sees only data. */
function withoutNotes(raw: Record<string, unknown>): Record<string, unknown> {
  const strip = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([key]) => !isCommentKey(key)));
  const top = strip(raw);
  if (Array.isArray(top["networks"]))
    top["networks"] = top["networks"].map((entry: unknown) => (isObject(entry) ? strip(entry) : entry));
  return top;
}
