import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { LabSpecError } from "../errors.js";
import { defaultLabSpec } from "./default-lab-spec.js";
import type { LabSpec } from "./lab-spec.js";
import { parseLabSpec } from "./parse-lab-spec.js";

export interface LoadedLabSpec {
  spec: LabSpec;
  /** The file it came from, or "(built-in default)". */
  source: string;
}

export const DEFAULT_SPEC_FILES = ["lab.json", "lab.yaml", "lab.yml"] as const;
export const BUILTIN_SPEC_SOURCE = "(built-in default)";

/**
 * Loads the lab spec: `file` if given (must exist), else lab.json / lab.yaml / lab.yml in `cwd`,
 * else the built-in local default.
 */
export async function loadLabSpec(file: string | undefined, cwd = process.cwd()): Promise<LoadedLabSpec> {
  if (file !== undefined) return { spec: await readSpecFile(resolve(cwd, file), file), source: file };
  for (const name of DEFAULT_SPEC_FILES) {
    const path = join(cwd, name);
    const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw new LabSpecError(
        name,
        "(file)",
        `cannot be read: ${error.message}`,
        "Check the file's permissions.",
      );
    });
    if (text !== undefined) return { spec: parseSpecText(text, name), source: name };
  }
  return { spec: defaultLabSpec(), source: BUILTIN_SPEC_SOURCE };
}

async function readSpecFile(path: string, shown: string): Promise<LabSpec> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LabSpecError(
      shown,
      "(file)",
      code === "ENOENT" ? "does not exist" : `cannot be read: ${(error as Error).message}`,
      "Pass the path of a lab.json or lab.yaml with --spec, or leave --spec out to use the built-in local lab.",
    );
  }
  return parseSpecText(text, shown);
}

/** Parses JSON (by .json extension) or YAML (anything else; YAML is a superset of JSON). */
export function parseSpecText(text: string, source: string): LabSpec {
  let raw: unknown;
  try {
    raw = source.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new LabSpecError(
      source,
      "(syntax)",
      `is not valid ${source.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message}`,
      "Fix the syntax error at the position shown.",
    );
  }
  return parseLabSpec(raw, source);
}
