import { z } from "zod";

/**
 * config/ip_pools.json described once: zod checks the shape of every field (with the codes and
 * messages config.ts reports), `z.output` gives IpPoolConfig and friends (types.ts re-exports them),
 * and `ipPoolConfigJsonSchema()` publishes the same description for editors. Address arithmetic
 * (host bits, gateway inside the subnet, overlapping pools) stays in config.ts.
 */

/** Separates the stable error code from the message inside zod's single message string. */
const SEP = "\u001f";
const issue = (code: string, message: string): string => `${code}${SEP}${message}`;
const invalid = (message: string) => ({ error: issue("CONFIG_INVALID", message) });

export const PROBE_METHODS = ["arp", "ping", "none"] as const;
const PROBE_HELP = `${PROBE_METHODS.map((m) => `"${m}"`).join(", ")} (default: "arp" on a directly attached subnet, else "ping")`;

/** "arp": RFC 5227 ARP probe on a directly attached subnet; "ping": ICMP echo; "none": trust the ledger. */
const probeSchema = z
  .enum(PROBE_METHODS, invalid(`must be one of ${PROBE_HELP}`))
  .describe(`How a candidate address is checked on the wire before it is handed out: ${PROBE_HELP}.`);

const RANGE_MESSAGE = 'must be {"start": "a.b.c.d", "end": "a.b.c.d"}';
const address = (description: string) =>
  z.string(invalid(RANGE_MESSAGE)).meta({ format: "ipv4", description });
const rangeSchema = z
  .object(
    { start: address("First address of the range."), end: address("Last address of the range (inclusive).") },
    invalid(RANGE_MESSAGE),
  )
  .describe("An inclusive address range.");

const addressList = (description: string) =>
  z
    .array(
      z.string(invalid("entry {i} must be an address string")).meta({ format: "ipv4" }),
      invalid('must be a list of addresses, e.g. ["8.8.8.8", "8.8.4.4"]'),
    )
    .describe(description);

function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (problem) =>
      problem.code === "unrecognized_keys"
        ? issue("CONFIG_UNKNOWN_FIELD", `unknown field (known: ${known})`)
        : issue("CONFIG_INVALID", "must be an object"),
  });
}

export const ipNetworkSchema = strict({
  name: z
    .string(invalid("must start with a letter and use only letters, digits, '.', '_' and '-'"))
    .regex(
      /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/,
      invalid("must start with a letter and use only letters, digits, '.', '_' and '-'"),
    )
    .describe('Optional short name ("lan"), accepted wherever a network CIDR is.')
    .optional(),
  cidr: z
    .string(invalid('required, e.g. "192.168.3.0/24"'))
    .meta({ description: "The subnet, network address and prefix.", examples: ["192.168.3.0/24"] }),
  gateway: z.string(invalid('required, e.g. "192.168.3.1"')).meta({
    format: "ipv4",
    description: "Gateway: a usable address inside the subnet.",
    examples: ["192.168.3.1"],
  }),
  dns: addressList("DNS servers handed out with every address of this subnet."),
  dhcp: z
    .boolean(invalid("required: true or false (false for on-prem subnets without DHCP)"))
    .describe("Whether the subnet runs DHCP; on-prem lab subnets without DHCP are why this manager exists."),
  pools: z
    .array(rangeSchema, invalid('required: a list of {"start","end"} ranges (may be empty)'))
    .describe(
      "Ranges addresses are handed out from, lowest first; then the fallback descends from the last usable.",
    ),
  exclude: z
    .array(
      z.union([address("An address never handed out."), rangeSchema], invalid(RANGE_MESSAGE)),
      invalid("must be a list of addresses or {start,end} ranges"),
    )
    .describe("Addresses or ranges never handed out, neither from the pools nor as fallback.")
    .optional(),
  probe: probeSchema.optional(),
}).describe("One subnet.");

export const ipPoolConfigSchema = strict({
  networks: z
    .array(ipNetworkSchema, invalid("must be a list of networks"))
    .describe("The subnets labgate hands out addresses in."),
  defaultDns: addressList(
    "DNS servers given with fallback addresses on subnets that are not in `networks`.",
  ).optional(),
  probe: probeSchema.optional(),
}).meta({
  $id: "https://labgate.dev/schema/ip-pools.schema.json",
  title: "labgate IP pool config",
  description:
    "config/ip_pools.json: static IPv4 pools of lab subnets without DHCP. Keys starting with $ or _, and comment, are notes.",
});

/** One problem of the document, in config.ts's terms: the network it is in, the field, a code. */
export interface PoolSchemaProblem {
  /** Index in `networks`, when the problem is inside one. */
  networkIndex?: number;
  field: string;
  code: string;
  message: string;
}

/**
 * The first problem zod found, unknown fields first. Inside a list of addresses or ranges the
 * whole entry is named (`pools[0]`, `dns`), as config.ts names them.
 */
export function poolSchemaProblem(error: z.ZodError): PoolSchemaProblem | undefined {
  const [first] = [...error.issues].sort(
    (a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"),
  );
  if (!first) return undefined;
  const path = first.code === "unrecognized_keys" ? [...first.path, first.keys[0] ?? ""] : [...first.path];
  const [code = "CONFIG_INVALID", text = first.message] = first.message.includes(SEP)
    ? first.message.split(SEP)
    : ["CONFIG_INVALID", first.message];
  const inNetwork = path[0] === "networks" && typeof path[1] === "number";
  const rest = inNetwork ? path.slice(2) : path;
  const [key, index] = rest;
  const field =
    key === undefined
      ? inNetwork
        ? "(entry)"
        : "(root)"
      : (key === "pools" || key === "exclude") && typeof index === "number"
        ? `${String(key)}[${index}]`
        : String(key);
  const message = text.replace("{i}", String(typeof index === "number" ? index : 0));
  return { ...(inNetwork ? { networkIndex: path[1] as number } : {}), field, code, message };
}

/** Notes beside the data ($comment, $schema, _why, comment) are allowed at both levels. */
export function isCommentKey(key: string): boolean {
  return key.startsWith("$") || key.startsWith("_") || key === "comment";
}

const COMMENT_KEYS = { "^(\\$|_)|^comment$": {} };

/** config/ip_pools.json as JSON Schema (draft 2020-12) for editors: `labgate schema pool`. */
export function ipPoolConfigJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ipPoolConfigSchema, { io: "input", target: "draft-2020-12" });
  // zod has no pattern keys; the notes config.ts allows are added here so editors accept them too.
  const network = (schema["properties"] as { networks: { items: Record<string, unknown> } }).networks.items;
  schema["patternProperties"] = COMMENT_KEYS;
  network["patternProperties"] = COMMENT_KEYS;
  return schema;
}
