import { z } from "zod";
import type { Finding } from "./findings.js";

/**
 * The deployment spec described once: zod checks every field with the findings users know
 * ("cores must be an integer between 1 and 512, got 0." + the fix), `z.output` types the document
 * (spec.ts builds DeploySpec from it), and `deploySpecJsonSchema()` publishes it for editors.
 * What needs two fields (memory_mib or memory_gib) and the defaults stay in parse-spec.ts.
 */

export const PLATFORM_NAMES = ["proxmox", "esxi", "aws", "azure", "opennebula", "lxd", "local"] as const;
export const OS_FAMILIES = ["linux", "windows"] as const;
export const IMAGE_FORMATS = [
  "qcow2",
  "ova",
  "ovf",
  "vmdk",
  "raw",
  "img",
  "vhd",
  "ami",
  "marketplace",
  "lxd",
] as const;

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Separates a finding's message from its fix inside zod's single message string. */
const SEP = "\u001f";
const finding = (message: string, fix: string): string => `${message}${SEP}${fix}`;
/** The same error for a wrong type and a failed check: one finding per field, as users know it. */
const says = (render: (input: unknown) => string) => ({
  error: (issue: { input?: unknown }) => render(issue.input),
});

export function show(v: unknown): string {
  return v === undefined ? "nothing" : JSON.stringify(v);
}

const nameError = says((v) =>
  finding(
    `name must be a hostname-like string (letters, digits, dashes, 1-63 chars), got ${show(v)}.`,
    'Set "name": "web1".',
  ),
);

function wholeNumber(field: string, min: number, max: number, description: string) {
  const error = says((v) =>
    finding(
      `${field} must be an integer between ${min} and ${max}, got ${show(v)}.`,
      `Set "${field}" to a whole number.`,
    ),
  );
  return z.int(error).min(min, error).max(max, error).describe(description);
}

const ipv4 = (field: string, description: string) => {
  const error = says((v) => finding(`${field} must be an IPv4 address, got ${show(v)}.`, "Fix the address."));
  return z.string(error).regex(IPV4, error).meta({ format: "ipv4", description });
};

const nonEmpty = (message: string, fix: string, description: string) =>
  z
    .string({ error: finding(message, fix) })
    .min(1, { error: finding(message, fix) })
    .describe(description);

const flag = (field: string, description: string) =>
  z.boolean({ error: finding(`${field} must be true or false.`, "Fix it.") }).describe(description);

const imageSchema = z
  .object(
    {
      source: nonEmpty(
        "image.source must be a non-empty string.",
        "Fix or remove it.",
        "Local path or URL of a cloud image (qcow2, OVA, VMDK ...); its extension sets the format.",
      ).optional(),
      format: z
        .enum(
          IMAGE_FORMATS,
          says((v) =>
            finding(
              `image.format must be one of ${IMAGE_FORMATS.join(", ")}, got ${show(v)}.`,
              "Fix the format.",
            ),
          ),
        )
        .describe("Image format; default: the source's extension.")
        .optional(),
      ref: nonEmpty(
        "image.ref must be a non-empty string.",
        "Fix or remove it.",
        "Cloud image reference: an AMI id, an Azure publisher:offer:sku:version URN, an LXD alias.",
      ).optional(),
    },
    {
      error: finding(
        "image must be an object {source, format, ref}.",
        'E.g. {"source": "jammy.qcow2", "format": "qcow2"}.',
      ),
    },
  )
  .describe("The image to boot, unless template_id clones a template.");

const cidrError = says((v) =>
  finding(`network.cidr must be an IPv4 CIDR like 192.168.3.0/24, got ${show(v)}.`, "Fix the CIDR."),
);

const networkSchema = z
  .object(
    {
      cidr: z
        .string(cidrError)
        .refine((cidr) => {
          const [address = "", prefix = ""] = cidr.split("/");
          return /^[\d.]+\/\d{1,2}$/.test(cidr) && IPV4.test(address) && Number(prefix) <= 32;
        }, cidrError)
        .meta({
          description: "Subnet the VM joins; its address comes from the IP pool.",
          examples: ["192.168.3.0/24"],
        })
        .optional(),
      ip: ipv4("network.ip", "A fixed address instead of one from the pool.").optional(),
      prefix: z
        .int(says((v) => finding(`network.prefix must be an integer 1-32, got ${show(v)}.`, "E.g. 24.")))
        .min(
          1,
          says((v) => finding(`network.prefix must be an integer 1-32, got ${show(v)}.`, "E.g. 24.")),
        )
        .max(
          32,
          says((v) => finding(`network.prefix must be an integer 1-32, got ${show(v)}.`, "E.g. 24.")),
        )
        .describe("Prefix length of the subnet.")
        .optional(),
      netmask: ipv4("network.netmask", "Netmask, e.g. 255.255.255.0.").optional(),
      gateway: ipv4("network.gateway", "Default gateway.").optional(),
      dns: z
        .array(z.string().regex(IPV4).meta({ format: "ipv4" }))
        .describe("DNS servers.")
        .optional(),
      dhcp: flag(
        "network.dhcp",
        "Whether the network hands out addresses; unset: false on proxmox/esxi/opennebula/lxd/local, true on aws/azure.",
      ).optional(),
      static: flag(
        "network.static",
        "Cloud platforms: ask for a fixed private address instead of DHCP.",
      ).optional(),
      attach: nonEmpty(
        "network.attach must be a non-empty string (bridge, port group, subnet id).",
        "Fix it.",
        "Bridge / port group / subnet id / vnet the NIC is attached to.",
      ).optional(),
    },
    {
      error: finding(
        "network is required (at least the subnet CIDR).",
        'Add "network": {"cidr": "192.168.3.0/24"}.',
      ),
    },
  )
  .describe("The VM's network: subnet, address, gateway, DNS.");

export const deploySpecSchema = z
  .strictObject(
    {
      name: z
        .string(nameError)
        .regex(NAME, nameError)
        .meta({
          description: "Hostname-like VM name: letters, digits, dashes, 1-63 chars.",
          examples: ["web1"],
        }),
      platform: z
        .enum(
          PLATFORM_NAMES,
          says((v) =>
            finding(
              `platform must be one of ${PLATFORM_NAMES.join(", ")}, got ${show(v)}.`,
              "Pick one, or pass --platform.",
            ),
          ),
        )
        .describe("Where the VM runs; --platform overrides it.")
        .optional(),
      os: z
        .object(
          {
            family: z
              .enum(
                OS_FAMILIES,
                says((v) =>
                  finding(
                    `os.family must be "linux" or "windows", got ${show(v)}.`,
                    'Set "family": "linux" or "windows".',
                  ),
                ),
              )
              .describe("Operating system family."),
            distro: z
              .string({ error: finding("os.distro must be a string.", 'E.g. "ubuntu".') })
              .describe("Distribution, e.g. ubuntu.")
              .optional(),
          },
          {
            error: finding(
              'os is required: {"family": "linux"|"windows", "distro": ...}.',
              'Add "os": {"family": "linux", "distro": "ubuntu"}.',
            ),
          },
        )
        .describe("The guest operating system."),
      cores: wholeNumber("cores", 1, 512, "Virtual CPUs."),
      memory_mib: wholeNumber("memory_mib", 64, 12_582_912, "Memory in MiB (or give memory_gib).").optional(),
      memory_gib: wholeNumber("memory_gib", 1, 12288, "Memory in GiB (or give memory_mib).").optional(),
      disk_gb: wholeNumber("disk_gb", 1, 65536, "Root disk size in GB.").optional(),
      template_id: z
        .union(
          [z.string().refine((id) => id.trim() !== ""), z.int()],
          says((v) =>
            finding(
              `template_id must be a non-empty string or integer, got ${show(v)}.`,
              'E.g. "template_id": 9000.',
            ),
          ),
        )
        .describe("Clone from this template (Proxmox VMID, vSphere template id, OpenNebula template id).")
        .optional(),
      image: imageSchema.optional(),
      network: networkSchema,
      ssh_authorized_keys: z
        .array(z.string())
        .describe("Public keys put into the default user's authorized_keys.")
        .optional(),
      platform_options: z
        .record(z.string(), z.unknown(), {
          error: finding(
            "platform_options must be an object keyed by platform.",
            'E.g. {"proxmox": {"node": "pve1"}}.',
          ),
        })
        .describe("Platform-specific settings keyed by platform (node, storage, region ...), never secrets.")
        .optional(),
      $schema: z.string().describe("URL or path of this JSON Schema, for editors.").optional(),
      description: z.string().describe("Free text for people.").optional(),
    },
    {
      error: finding(
        "The spec must be a JSON object.",
        'Write {"name": ..., "os": ..., "cores": ..., "memory_mib": ..., "network": ...}.',
      ),
    },
  )
  .meta({
    $id: "https://labgate.dev/schema/deploy.schema.json",
    title: "labgate deployment spec",
    description: "One VM (or system container) for `labgate deploy`: size, OS, image or template, network.",
  });

/** The document as written (memory in MiB or GiB, template id a string or a number). */
export type DeploySpecDocument = z.output<typeof deploySpecSchema>;

const KNOWN = Object.keys(deploySpecSchema.shape);

/** Whole-field findings for lists: one finding naming the list and what it holds, not each entry. */
const LISTS: Record<string, (value: unknown) => string> = {
  "network.dns": (v) =>
    finding(`network.dns must be a list of IPv4 addresses, got ${show(v)}.`, 'E.g. ["8.8.8.8", "8.8.4.4"].'),
  ssh_authorized_keys: () => finding("ssh_authorized_keys must be a list of strings.", "Fix it."),
};

/** Every problem zod found, as findings: unknown fields one by one, then each field once. */
export function deploySpecFindings(error: z.ZodError, raw: unknown): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const unknownFirst = [...error.issues].sort(
    (a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"),
  );
  for (const issue of unknownFirst) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        findings.push({
          code: "SPEC_UNKNOWN_FIELD",
          severity: "error",
          field: key,
          message: `Unknown field "${key}".`,
          fix: `Remove it or check the spelling; known fields: ${KNOWN.join(", ")}.`,
        });
      }
      continue;
    }
    const path = issue.path.map(String);
    const list = Object.keys(LISTS).find((f) => path.join(".").startsWith(f));
    const field = list ?? (path.length === 0 ? "$" : path.join("."));
    if (seen.has(field)) continue;
    seen.add(field);
    const text = list ? (LISTS[list]?.(valueAt(raw, list.split("."))) ?? issue.message) : issue.message;
    const [message = text, fix = "Fix it."] = text.split(SEP);
    findings.push({ code: "SPEC_INVALID_FIELD", severity: "error", field, message, fix });
  }
  return findings;
}

function valueAt(raw: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>(
    (value, key) =>
      typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined,
    raw,
  );
}

/** The deployment spec as JSON Schema (draft 2020-12) for editors: `labgate schema deploy`. */
export function deploySpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(deploySpecSchema, { io: "input", target: "draft-2020-12" });
}
