import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { labSpecJsonSchema, labSpecSchema, schemaProblems } from "./lab-spec-schema.js";
import { parseLabSpec } from "./parse-lab-spec.js";

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "../../../../examples");
const labExamples = readdirSync(EXAMPLES).filter((f) => /^lab-.*\.ya?ml$/.test(f));

describe("the lab spec schema", () => {
  it("finds the shipped lab examples", () => {
    expect(labExamples.length).toBeGreaterThanOrEqual(4);
  });

  it.each(labExamples)("examples/%s passes the schema and the parser", (file) => {
    const raw = parseYaml(readFileSync(join(EXAMPLES, file), "utf8"));
    expect(labSpecSchema.safeParse(raw).success).toBe(true);
    expect(parseLabSpec(raw, file).name).toBe(raw.name);
  });

  it("a broken example fails with the field, the problem and the fix", () => {
    const raw = parseYaml(readFileSync(join(EXAMPLES, "lab-lxd.yaml"), "utf8"));
    raw.lb.expose.port = 70000;
    raw.apps.namePrefix = "App";
    raw.aps = {};
    const result = labSpecSchema.safeParse(raw);
    expect(result.success).toBe(false);
    const problems = schemaProblems(result.error!);
    expect(problems[0]).toEqual({
      field: "aps",
      message: "unknown field",
      hint: expect.stringContaining("Known fields: name, provider, network"),
    });
    expect(problems).toContainEqual({
      field: "apps.namePrefix",
      message: '"App" is not a valid instance name prefix',
      hint: "Use lowercase letters, digits and dashes, starting with a letter.",
    });
    expect(problems).toContainEqual({
      field: "lb.expose.port",
      message: "must be a whole number from 1 to 65535, got 70000",
    });
    expect(() => parseLabSpec(raw, "lab.yaml")).toThrow("lab.yaml: aps: unknown field");
  });

  it("publishes a draft 2020-12 JSON Schema with an id, a title and described fields", () => {
    const schema = labSpecJsonSchema();
    expect(schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $id: "https://labgate.dev/schema/lab.schema.json",
      title: "labgate lab spec",
      type: "object",
      additionalProperties: false,
    });
    const properties = schema["properties"] as Record<string, Record<string, unknown>>;
    expect(Object.keys(properties)).toEqual(Object.keys(labSpecSchema.shape));
    for (const [key, property] of Object.entries(properties))
      expect(property["description"], key).toEqual(expect.any(String));
    expect(properties["provider"]).toMatchObject({ enum: ["local", "lxd", "opennebula"] });
    // Provider-specific options stay open: each provider checks its own.
    expect(properties["providerOptions"]).toMatchObject({ type: "object", additionalProperties: {} });
    expect(properties["apps"]).toMatchObject({
      additionalProperties: false,
      properties: { ports: { type: "array", items: { type: "integer", minimum: 1, maximum: 65535 } } },
    });
  });
});
