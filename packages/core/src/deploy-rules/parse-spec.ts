import { readFile } from "node:fs/promises";
import { DeploySpecError } from "../errors.js";
import {
  type DeploySpecDocument,
  deploySpecFindings,
  deploySpecSchema,
  IMAGE_FORMATS,
  show,
} from "./deploy-spec-schema.js";
import type { Finding } from "./findings.js";
import type { DeployImage, DeploySpec } from "./spec.js";

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

/**
 * Checks every field and reports every problem at once, not just the first. The schema
 * (deploy-spec-schema.ts) checks each field; memory_mib vs memory_gib is checked here.
 */
export function validateDeploySpec(raw: unknown): ParsedSpec {
  const parsed = deploySpecSchema.safeParse(raw);
  const findings = parsed.success ? [] : deploySpecFindings(parsed.error, raw);
  const memory = memoryFinding(raw);
  if (memory) findings.push(memory);
  if (!parsed.success || memory) return { spec: undefined, findings };
  return { spec: normalise(parsed.data), findings };
}

/** memory_mib or memory_gib: exactly one of them. */
function memoryFinding(raw: unknown): Finding | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const doc = raw as Record<string, unknown>;
  const both = doc["memory_mib"] !== undefined && doc["memory_gib"] !== undefined;
  const neither = doc["memory_mib"] === undefined && doc["memory_gib"] === undefined;
  if (!both && !neither) return undefined;
  return {
    code: "SPEC_INVALID_FIELD",
    severity: "error",
    field: "memory_mib",
    message: both
      ? "Give memory_mib or memory_gib, not both."
      : `memory_mib must be an integer between 64 and 12582912, got ${show(undefined)}.`,
    fix: both ? "Keep one." : 'Set "memory_mib" to a whole number.',
  };
}

/** The spec as the rules and adapters use it: memory in MiB, template ids as strings, a format. */
function normalise(doc: DeploySpecDocument): DeploySpec {
  const spec: DeploySpec = {
    name: doc.name,
    os:
      doc.os.distro === undefined
        ? { family: doc.os.family }
        : { family: doc.os.family, distro: doc.os.distro },
    cores: doc.cores,
    memory_mib: doc.memory_mib ?? (doc.memory_gib ?? 0) * 1024,
    network: doc.network,
  };
  if (doc.platform) spec.platform = doc.platform;
  if (doc.disk_gb !== undefined) spec.disk_gb = doc.disk_gb;
  if (doc.template_id !== undefined) spec.template_id = String(doc.template_id);
  if (doc.image) spec.image = withFormat(doc.image);
  if (doc.ssh_authorized_keys) spec.ssh_authorized_keys = doc.ssh_authorized_keys;
  if (doc.platform_options) spec.platform_options = doc.platform_options;
  return spec;
}

/** Without a format, the source's extension names it (jammy.qcow2 → qcow2). */
function withFormat(image: DeployImage): DeployImage {
  if (image.format !== undefined || !image.source) return image;
  const ext = /\.([a-z0-9]+)$/i.exec(image.source)?.[1]?.toLowerCase();
  const format = IMAGE_FORMATS.find((f) => f === ext);
  return format ? { ...image, format } : image;
}
