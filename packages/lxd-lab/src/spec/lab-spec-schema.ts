import { isIPv4 } from "node:net";
import { parseSlo } from "@labgate/bench";
import { z } from "zod";
import { describeValue } from "./describe-value.js";
import { HEALTH_CHECK_LIMITS } from "./health-check.js";
import { FAULT_FORM_HINT } from "./spec-faults.js";

/**
 * The lab document (lab.json / lab.yaml) described once: zod checks every field with the messages
 * users know (`apps.ports[1]: must be a whole number ...`), `z.input` types the document, and
 * `labSpecJsonSchema()` publishes the same description for editors. What needs two fields at once
 * (ports vs count, faults vs apps, defaults per provider) stays in parse-lab-spec.ts.
 */

/** Bounds keep the final step short and the load sane for a lab: it is a check, not a soak test. */
export const BENCH_LIMITS = {
  minDurationMs: 1_000,
  maxDurationMs: 600_000,
  maxConnections: 1_000,
  maxRate: 100_000,
} as const;

export const LAB_PROVIDERS = ["local", "lxd", "opennebula"] as const;
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const INSTANCE_RE = /^[a-z][a-z0-9-]{0,30}$/;
const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h))+$/;

/** Separates an issue's message from its hint inside zod's single message string. */
const HINT = "\u001f";
const say = (message: string, hint?: string): string => (hint ? `${message}${HINT}${hint}` : message);

/** "5s", "500ms", "2m", "1m30s" or a number of seconds. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === "number")
    return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (!DURATION_RE.test(text)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(m[1]) * (unit[m[2] ?? "s"] ?? 0);
  return Math.round(total);
}

function strict<T extends z.ZodRawShape>(shape: T, label: string) {
  const known = Object.keys(shape).filter((k) => k !== "$schema");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? say(
            "unknown field",
            label ? `Known fields of ${label}: ${known.join(", ")}.` : `Known fields: ${known.join(", ")}.`,
          )
        : `must be an object, got ${describeValue(issue.input)}`,
  });
}

const text = () => z.string({ error: (issue) => `must be a string, got ${describeValue(issue.input)}` });

function wholeNumber(min: number, max: number) {
  const error = (issue: { input?: unknown }) =>
    `must be a whole number from ${min} to ${max}, got ${describeValue(issue.input)}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

const port = (description: string) => wholeNumber(1, 65535).describe(description);
const flag = (description: string) => z.boolean({ error: "must be true or false" }).describe(description);
const ipv4 = (description: string) =>
  z
    .string({ error: (issue) => `${JSON.stringify(issue.input)} is not an IPv4 address` })
    .refine((value) => isIPv4(value), {
      error: (issue) => `${JSON.stringify(issue.input)} is not an IPv4 address`,
    })
    .meta({ format: "ipv4", description });

interface DurationRule {
  description: string;
  minMs: number;
  maxMs: number;
  range: string;
  hint: string;
  rangeHint: string;
  /** Whether a bare number of seconds is accepted besides "5s". */
  seconds: boolean;
}

function duration(rule: DurationRule) {
  const notDuration = (value: unknown) => say(`${describeValue(value)} is not a duration`, rule.hint);
  const base = rule.seconds
    ? z.union([z.string(), z.number()], { error: (issue) => notDuration(issue.input) })
    : z.string({ error: (issue) => notDuration(issue.input) });
  return base
    .superRefine((value, ctx) => {
      const ms = durationMs(value);
      if (ms === undefined) ctx.addIssue({ code: "custom", message: notDuration(value) });
      else if (ms < rule.minMs || ms > rule.maxMs)
        ctx.addIssue({
          code: "custom",
          message: say(`${describeValue(value)} is outside ${rule.range}`, rule.rangeHint),
        });
    })
    .meta({ description: rule.description, examples: ["500ms", "5s", "1m30s"] });
}

const networkSchema = strict(
  {
    cidr: text()
      .refine(
        (cidr) => {
          const [address, prefixText, extra] = cidr.split("/");
          return (
            extra === undefined &&
            !!address &&
            isIPv4(address) &&
            /^\d{1,2}$/.test(prefixText ?? "") &&
            Number(prefixText) <= 32
          );
        },
        {
          error: (issue) =>
            say(`"${issue.input}" is not an IPv4 subnet in CIDR form`, 'Write it like "10.20.0.0/24".'),
        },
      )
      .meta({
        description: 'Subnet of the lab network (local provider: "127.0.0.0/8", its default).',
        examples: ["10.20.0.0/24"],
      })
      .optional(),
    gateway: ipv4("Gateway address; defaults to the subnet's first usable address.").optional(),
    dns: z
      .array(ipv4("DNS server"), { error: "must be a list of IPv4 addresses" })
      .describe("DNS servers handed to the instances.")
      .optional(),
    dhcp: flag(
      "On-prem lab networks have no DHCP: addresses come from the IP pool (default false).",
    ).optional(),
    name: text()
      .describe("Bridge / VNet name the provider creates (LXD bridge, OpenNebula VNet).")
      .optional(),
  },
  "network",
).describe('The lab network; required unless provider is "local".');

const appsSchema = strict(
  {
    count: wholeNumber(1, 64).describe("Number of app instances (default 2).").optional(),
    ports: z
      .array(port("Port of one app instance"), { error: "must be a non-empty list of port numbers" })
      .min(1, { error: "must be a non-empty list of port numbers" })
      .describe("One port per app instance (default 8000, 8001, ...).")
      .optional(),
    namePrefix: text()
      .regex(INSTANCE_RE, {
        error: (issue) =>
          say(
            `"${issue.input}" is not a valid instance name prefix`,
            "Use lowercase letters, digits and dashes, starting with a letter.",
          ),
      })
      .describe('Instances are named <namePrefix><n> (default "app").')
      .optional(),
  },
  "apps",
).describe("The app instances behind the load balancer.");

const { minIntervalMs, maxIntervalMs, maxFall, maxRise } = HEALTH_CHECK_LIMITS;
const healthCheckSchema = strict(
  {
    interval: duration({
      description: "HAProxy's `inter`: time between two checks of one server (default 1s).",
      minMs: minIntervalMs,
      maxMs: maxIntervalMs,
      range: "100ms to 1m",
      hint: 'Write it with a unit, like "1s" or "200ms" (HAProxy\'s `inter`).',
      rangeHint:
        'Checks faster than 100ms load the apps more than the bench; use e.g. "200ms" for quick failover, "1s" by default.',
      seconds: false,
    }).optional(),
    fall: wholeNumber(1, maxFall).describe("Failed checks before a server is DOWN (default 2).").optional(),
    rise: wholeNumber(1, maxRise)
      .describe("Good checks before a DOWN server is UP again (default 1).")
      .optional(),
  },
  "lb.healthCheck",
).describe("HAProxy's health checks of every app; a dead backend leaves after about interval × fall.");

const lbSchema = strict(
  {
    port: port("Port HAProxy's frontend listens on (default 8080).").optional(),
    statsPort: port("Port of HAProxy's stats/metrics endpoint (default 8404).").optional(),
    expose: strict(
      {
        address: ipv4("Host address the load balancer is exposed on."),
        port: port("Host port the load balancer is exposed on."),
      },
      "lb.expose",
    )
      .describe("Where the load balancer is reachable for the user (LXD proxy device, port forward).")
      .optional(),
    name: text()
      .regex(INSTANCE_RE, { error: (issue) => `"${issue.input}" is not a valid instance name` })
      .describe('Instance name of the load balancer (default "lb").')
      .optional(),
    healthCheck: healthCheckSchema.optional(),
  },
  "lb",
).describe("The HAProxy load balancer.");

const sloSchema = z
  .string({
    error: (issue) =>
      say(`${JSON.stringify(issue.input)} is not an SLO expression`, 'Write it like "p99<250ms".'),
  })
  .superRefine((entry, ctx) => {
    if (!entry.trim()) {
      ctx.addIssue({
        code: "custom",
        message: say(`${JSON.stringify(entry)} is not an SLO expression`, 'Write it like "p99<250ms".'),
      });
      return;
    }
    // The final bench step evaluates them: a typo is reported now, not after the lab is built.
    try {
      parseSlo(entry);
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        message: say((error as Error).message, (error as { hint?: string }).hint),
      });
    }
  })
  .meta({ description: "An SLO the final bench checks.", examples: ["p99<250ms", "errors<1%"] });

const rateError = (issue: { input?: unknown }) =>
  say(
    `must be a number of requests per second above 0 and at most ${BENCH_LIMITS.maxRate}, got ${describeValue(issue.input)}`,
    "Leave it out for a closed-loop run.",
  );

const benchSchema = strict(
  {
    duration: duration({
      description: "Measured window of the final bench (default 5s; a bare number is seconds).",
      minMs: BENCH_LIMITS.minDurationMs,
      maxMs: BENCH_LIMITS.maxDurationMs,
      range: "1s to 10m",
      hint: 'Write it like "5s", "500ms" or "2m".',
      rangeHint: 'The final bench is a short check; use e.g. "5s".',
      seconds: true,
    }).optional(),
    connections: wholeNumber(1, BENCH_LIMITS.maxConnections)
      .describe("Connections (closed loop), or the pool size at a constant rate (default 10).")
      .optional(),
    rate: z
      .number({ error: rateError })
      .gt(0, { error: rateError })
      .max(BENCH_LIMITS.maxRate, { error: rateError })
      .describe("Requests per second: a constant-rate (open loop) run.")
      .optional(),
    enabled: flag("false: the lab has no bench step (default true).").optional(),
  },
  "bench",
).describe("The final bench step through the exposed load balancer.");

export const labSpecSchema = strict(
  {
    $schema: z.string().describe("URL or path of this JSON Schema, for editors.").optional(),
    name: text()
      .regex(NAME_RE, {
        error: (issue) =>
          say(
            `"${issue.input}" is not a valid lab name`,
            "Use 1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit.",
          ),
      })
      .describe('Lab name; namespaces state, instances and networks (default "demo").')
      .optional(),
    provider: z
      .enum(LAB_PROVIDERS, {
        error: (issue) =>
          typeof issue.input === "string"
            ? say(`"${issue.input}" is not a known provider`, `Use one of: ${LAB_PROVIDERS.join(", ")}.`)
            : `must be a string, got ${describeValue(issue.input)}`,
      })
      .describe('Where the lab runs (default "local").')
      .optional(),
    network: networkSchema.optional(),
    apps: appsSchema.optional(),
    lb: lbSchema.optional(),
    image: text()
      .refine((image) => image.trim() !== "", { error: "must not be empty" })
      .describe('Image: LXD alias, OpenNebula image name or "ubuntu:22.04" (the default).')
      .optional(),
    slos: z
      .array(sloSchema, { error: 'must be a list of SLO expressions, e.g. ["p99<250ms", "errors<1%"]' })
      .describe("SLOs the final bench checks (default p99<250ms, errors<1%).")
      .optional(),
    bench: benchSchema.optional(),
    faults: z
      .array(
        z.string({ error: (issue) => say(`${describeValue(issue.input)} is not a fault`, FAULT_FORM_HINT) }),
        {
          error: say("must be a list of faults", FAULT_FORM_HINT),
        },
      )
      .meta({
        description:
          "Faults for the failover check, in the --fault grammar; checked against the apps and the bench duration.",
        examples: [["stop app2 at 2s for 3s"]],
      })
      .optional(),
    providerOptions: z
      .looseObject({}, { error: (issue) => `must be an object, got ${describeValue(issue.input)}` })
      .describe("Provider-specific settings (LXD socket, OpenNebula endpoint ...); checked by the provider.")
      .optional(),
  },
  "",
).meta({
  $id: "https://labgate.dev/schema/lab.schema.json",
  title: "labgate lab spec",
  description:
    "A lab for `labgate lab`: provider, network, apps, HAProxy load balancer, SLOs and the final bench.",
});

/** The document as written (every field optional: the defaults fill the rest). */
export type LabSpecDocument = z.input<typeof labSpecSchema>;

/** One problem of a document: where (`apps.ports[1]`), what is wrong, and what to do. */
export interface SchemaProblem {
  field: string;
  message: string;
  hint?: string;
}

/** Every problem zod found, unknown fields first (a misspelt key explains the "missing" one). */
export function schemaProblems(error: z.ZodError): SchemaProblem[] {
  const issues = [...error.issues].sort(
    (a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"),
  );
  return issues.flatMap((issue) => {
    const [message = issue.message, hint] = issue.message.split(HINT);
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [undefined];
    return keys.map((key) => {
      const field = fieldPath(key === undefined ? issue.path : [...issue.path, key]);
      return hint === undefined ? { field, message } : { field, message, hint };
    });
  });
}

function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(document)";
  return path.reduce<string>(
    (out, part) =>
      typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part),
    "",
  );
}

/** The lab spec as JSON Schema (draft 2020-12) for editors: `labgate schema lab`. */
export function labSpecJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(labSpecSchema, {
    io: "input",
    target: "draft-2020-12",
    unrepresentable: "any",
  });
  // The one rule across fields an editor can check too: only the local lab has a default network.
  schema["allOf"] = [
    {
      if: { required: ["provider"], properties: { provider: { not: { const: "local" } } } },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's keyword, not a promise
      then: { required: ["network"] },
    },
  ];
  return schema;
}
