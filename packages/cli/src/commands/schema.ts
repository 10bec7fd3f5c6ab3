import { resolve } from "node:path";
import { deploySpecJsonSchema, InvalidInputError, ipPoolConfigJsonSchema } from "@labgate/core";
import { writeFileAtomic } from "@labgate/core/atomic-write";
import { labSpecJsonSchema } from "@labgate/lxd-lab";
import { Argument, type Command } from "commander";
import { createOutput } from "../output.js";
import { type LabIo, processIo } from "./lab-io.js";

/** Each document labgate reads, with the JSON Schema that describes it (the same schema validates it). */
export const SCHEMA_KINDS = {
  lab: { schema: labSpecJsonSchema, what: "lab spec (lab.json / lab.yaml)" },
  deploy: { schema: deploySpecJsonSchema, what: "deployment spec (deploy apply SPEC)" },
  pool: { schema: ipPoolConfigJsonSchema, what: "IP pool config (config/ip_pools.json)" },
} as const;
export type SchemaKind = keyof typeof SCHEMA_KINDS;

export interface SchemaFlags {
  out?: string;
}

/** `labgate schema lab|deploy|pool`: the JSON Schema of a spec, for editor completion and checks. */
export function registerSchemaCommand(program: Command): void {
  program
    .command("schema")
    .description(
      "Print the JSON Schema (draft 2020-12) of a lab spec, a deployment spec or the IP pool config.\n" +
        "Editors use it for completion and checks: `labgate schema lab > lab.schema.json`, then\n" +
        '"$schema": "./lab.schema.json" in a lab.json (YAML: `# yaml-language-server: $schema=./lab.schema.json`).',
    )
    .addArgument(new Argument("<kind>", "which document").choices(Object.keys(SCHEMA_KINDS)))
    .option("--out <file>", "write it to this file (atomically) instead of stdout")
    .action(async (kind: SchemaKind, flags: SchemaFlags) => {
      process.exitCode = await schemaCommand(kind, flags);
    });
}

export async function schemaCommand(
  kind: SchemaKind,
  flags: SchemaFlags,
  io: LabIo = processIo(),
): Promise<number> {
  const entry = SCHEMA_KINDS[kind];
  const text = `${JSON.stringify(entry.schema(), null, 2)}\n`;
  if (flags.out === undefined) {
    io.stdout.write(text);
    return 0;
  }
  const path = resolve(io.cwd, flags.out);
  try {
    await writeFileAtomic(path, text, { mode: 0o644 });
  } catch (cause) {
    throw new InvalidInputError("INVALID_FLAG", `--out ${flags.out}: cannot write ${path}.`, {
      hint: "Give a file in an existing, writable directory (or leave --out out to print on stdout).",
      cause,
    });
  }
  createOutput(false, io).info(`Wrote the JSON Schema of the ${entry.what} to ${path}.`);
  return 0;
}
