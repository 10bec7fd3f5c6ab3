import { readFile } from "node:fs/promises";
import { DeploySpecError } from "../errors.js";
import type { Finding } from "./findings.js";
import { type DeploySpec, type ImageFormat, type OsFamily, PLATFORMS, type PlatformName } from "./spec.js";

const IMAGE_FORMATS: readonly ImageFormat[] = [
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
];
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export interface ParsedSpec {
  /** Present when the document has the right shape (it may still carry rule findings). */
  spec: DeploySpec | undefined;
  findings: Finding[];
}

/** Reads and shape-checks a spec file; unreadable or non-JSON files are an InvalidInput error. */
export async function loadDeploySpec(path: string): Promise<ParsedSpec> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new DeploySpecError("SPEC_UNREADABLE", `Cannot read the deployment spec ${path}.`, {
      hint: "Check the path; `labgate deploy check spec.json` takes a JSON file.",
      cause,
    });
  }
  return parseDeploySpec(text, path);
}

export function parseDeploySpec(text: string, source = "spec"): ParsedSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new DeploySpecError("SPEC_NOT_JSON", `${source} is not valid JSON: ${(cause as Error).message}.`, {
      hint: "Fix the JSON syntax (trailing commas and comments are not allowed).",
      cause,
    });
  }
  return validateDeploySpec(raw);
}

/** Checks every field and reports every problem at once, not just the first. */
export function validateDeploySpec(raw: unknown): ParsedSpec {
  const findings: Finding[] = [];
  const bad = (field: string, message: string, fix: string) =>
    findings.push({ code: "SPEC_INVALID_FIELD", severity: "error", field, message, fix });
  if (!isObject(raw)) {
    bad(
      "$",
      "The spec must be a JSON object.",
      'Write {"name": ..., "os": ..., "cores": ..., "memory_mib": ..., "network": ...}.',
    );
    return { spec: undefined, findings };
  }
  const known = new Set([
    "name",
    "platform",
    "os",
    "cores",
    "memory_mib",
    "memory_gib",
    "disk_gb",
    "template_id",
    "image",
    "network",
    "ssh_authorized_keys",
    "platform_options",
    "$schema",
    "description",
  ]);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      findings.push({
        code: "SPEC_UNKNOWN_FIELD",
        severity: "error",
        field: key,
        message: `Unknown field "${key}".`,
        fix: `Remove it or check the spelling; known fields: ${[...known].join(", ")}.`,
      });
    }
  }
  const name = raw.name;
  if (typeof name !== "string" || !NAME.test(name)) {
    bad(
      "name",
      `name must be a hostname-like string (letters, digits, dashes, 1-63 chars), got ${show(name)}.`,
      'Set "name": "web1".',
    );
  }
  let platform: PlatformName | undefined;
  if (raw.platform !== undefined) {
    if (typeof raw.platform === "string" && (PLATFORMS as readonly string[]).includes(raw.platform))
      platform = raw.platform as PlatformName;
    else
      bad(
        "platform",
        `platform must be one of ${PLATFORMS.join(", ")}, got ${show(raw.platform)}.`,
        "Pick one, or pass --platform.",
      );
  }
  let family: OsFamily = "linux";
  let distro: string | undefined;
  if (!isObject(raw.os))
    bad(
      "os",
      'os is required: {"family": "linux"|"windows", "distro": ...}.',
      'Add "os": {"family": "linux", "distro": "ubuntu"}.',
    );
  else {
    if (raw.os.family === "linux" || raw.os.family === "windows") family = raw.os.family;
    else
      bad(
        "os.family",
        `os.family must be "linux" or "windows", got ${show(raw.os.family)}.`,
        'Set "family": "linux" or "windows".',
      );
    if (raw.os.distro !== undefined) {
      if (typeof raw.os.distro === "string") distro = raw.os.distro;
      else bad("os.distro", "os.distro must be a string.", 'E.g. "ubuntu".');
    }
  }
  const cores = positiveInt(raw.cores, "cores", bad, 1, 512);
  let memoryMib: number | undefined;
  if (raw.memory_mib !== undefined && raw.memory_gib !== undefined)
    bad("memory_mib", "Give memory_mib or memory_gib, not both.", "Keep one.");
  else if (raw.memory_gib !== undefined) {
    const gib = positiveInt(raw.memory_gib, "memory_gib", bad, 1, 12288);
    if (gib !== undefined) memoryMib = gib * 1024;
  } else memoryMib = positiveInt(raw.memory_mib, "memory_mib", bad, 64, 12_582_912);
  const diskGb = raw.disk_gb === undefined ? undefined : positiveInt(raw.disk_gb, "disk_gb", bad, 1, 65536);
  let templateId: string | undefined;
  if (raw.template_id !== undefined) {
    if (
      (typeof raw.template_id === "string" && raw.template_id.trim() !== "") ||
      (typeof raw.template_id === "number" && Number.isInteger(raw.template_id))
    )
      templateId = String(raw.template_id);
    else
      bad(
        "template_id",
        `template_id must be a non-empty string or integer, got ${show(raw.template_id)}.`,
        'E.g. "template_id": 9000.',
      );
  }
  let image: DeploySpec["image"];
  if (raw.image !== undefined) {
    if (!isObject(raw.image))
      bad(
        "image",
        "image must be an object {source, format, ref}.",
        'E.g. {"source": "jammy.qcow2", "format": "qcow2"}.',
      );
    else {
      image = {};
      for (const key of ["source", "ref"] as const) {
        const v = raw.image[key];
        if (v === undefined) continue;
        if (typeof v === "string" && v !== "") image[key] = v;
        else bad(`image.${key}`, `image.${key} must be a non-empty string.`, "Fix or remove it.");
      }
      if (raw.image.format !== undefined) {
        if (
          typeof raw.image.format === "string" &&
          (IMAGE_FORMATS as readonly string[]).includes(raw.image.format)
        )
          image.format = raw.image.format as ImageFormat;
        else
          bad(
            "image.format",
            `image.format must be one of ${IMAGE_FORMATS.join(", ")}, got ${show(raw.image.format)}.`,
            "Fix the format.",
          );
      } else if (image.source) {
        const ext = /\.([a-z0-9]+)$/i.exec(image.source)?.[1]?.toLowerCase();
        if (ext && (IMAGE_FORMATS as readonly string[]).includes(ext)) image.format = ext as ImageFormat;
      }
    }
  }
  const network: DeploySpec["network"] = {};
  if (!isObject(raw.network))
    bad(
      "network",
      "network is required (at least the subnet CIDR).",
      'Add "network": {"cidr": "192.168.3.0/24"}.',
    );
  else {
    const n = raw.network;
    if (n.cidr !== undefined) {
      if (
        typeof n.cidr === "string" &&
        /^[\d.]+\/\d{1,2}$/.test(n.cidr) &&
        IPV4.test(n.cidr.split("/")[0] ?? "") &&
        Number(n.cidr.split("/")[1]) <= 32
      )
        network.cidr = n.cidr;
      else
        bad(
          "network.cidr",
          `network.cidr must be an IPv4 CIDR like 192.168.3.0/24, got ${show(n.cidr)}.`,
          "Fix the CIDR.",
        );
    }
    for (const key of ["ip", "netmask", "gateway"] as const) {
      const v = n[key];
      if (v === undefined) continue;
      if (typeof v === "string" && IPV4.test(v)) network[key] = v;
      else
        bad(`network.${key}`, `network.${key} must be an IPv4 address, got ${show(v)}.`, "Fix the address.");
    }
    if (n.prefix !== undefined) {
      if (typeof n.prefix === "number" && Number.isInteger(n.prefix) && n.prefix >= 1 && n.prefix <= 32)
        network.prefix = n.prefix;
      else
        bad("network.prefix", `network.prefix must be an integer 1-32, got ${show(n.prefix)}.`, "E.g. 24.");
    }
    if (n.dns !== undefined) {
      if (Array.isArray(n.dns) && n.dns.every((d) => typeof d === "string" && IPV4.test(d)))
        network.dns = n.dns as string[];
      else
        bad(
          "network.dns",
          `network.dns must be a list of IPv4 addresses, got ${show(n.dns)}.`,
          'E.g. ["8.8.8.8", "8.8.4.4"].',
        );
    }
    for (const key of ["dhcp", "static"] as const) {
      const v = n[key];
      if (v === undefined) continue;
      if (typeof v === "boolean") network[key] = v;
      else bad(`network.${key}`, `network.${key} must be true or false.`, "Fix it.");
    }
    if (n.attach !== undefined) {
      if (typeof n.attach === "string" && n.attach !== "") network.attach = n.attach;
      else
        bad(
          "network.attach",
          "network.attach must be a non-empty string (bridge, port group, subnet id).",
          "Fix it.",
        );
    }
  }
  let keys: string[] | undefined;
  if (raw.ssh_authorized_keys !== undefined) {
    if (Array.isArray(raw.ssh_authorized_keys) && raw.ssh_authorized_keys.every((k) => typeof k === "string"))
      keys = raw.ssh_authorized_keys as string[];
    else bad("ssh_authorized_keys", "ssh_authorized_keys must be a list of strings.", "Fix it.");
  }
  let platformOptions: Record<string, unknown> | undefined;
  if (raw.platform_options !== undefined) {
    if (isObject(raw.platform_options)) platformOptions = raw.platform_options;
    else
      bad(
        "platform_options",
        "platform_options must be an object keyed by platform.",
        'E.g. {"proxmox": {"node": "pve1"}}.',
      );
  }
  if (
    findings.some((f) => f.severity === "error") ||
    typeof name !== "string" ||
    cores === undefined ||
    memoryMib === undefined
  ) {
    return { spec: undefined, findings };
  }
  const spec: DeploySpec = {
    name,
    os: distro === undefined ? { family } : { family, distro },
    cores,
    memory_mib: memoryMib,
    network,
  };
  if (platform) spec.platform = platform;
  if (diskGb !== undefined) spec.disk_gb = diskGb;
  if (templateId !== undefined) spec.template_id = templateId;
  if (image) spec.image = image;
  if (keys) spec.ssh_authorized_keys = keys;
  if (platformOptions) spec.platform_options = platformOptions;
  return { spec, findings };
}

function positiveInt(
  v: unknown,
  field: string,
  bad: (field: string, message: string, fix: string) => void,
  min: number,
  max: number,
): number | undefined {
  if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
  bad(
    field,
    `${field} must be an integer between ${min} and ${max}, got ${show(v)}.`,
    `Set "${field}" to a whole number.`,
  );
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return v === undefined ? "nothing" : JSON.stringify(v);
}
