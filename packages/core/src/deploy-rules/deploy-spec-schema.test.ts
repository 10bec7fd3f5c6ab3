import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { deploySpecFindings, deploySpecJsonSchema, deploySpecSchema } from "./deploy-spec-schema.js";
import { validateDeploySpec } from "./parse-spec.js";

const EXAMPLE = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../examples/deploy-proxmox-ubuntu.json",
);
const example = () => JSON.parse(readFileSync(EXAMPLE, "utf8")) as Record<string, unknown>;

describe("the deployment spec schema", () => {
  it("examples/deploy-proxmox-ubuntu.json passes the schema and the validator", () => {
    expect(deploySpecSchema.safeParse(example()).success).toBe(true);
    const { spec, findings } = validateDeploySpec(example());
    expect(findings).toEqual([]);
    expect(spec).toMatchObject({ name: "ubuntu-big", memory_mib: 32 * 1024, template_id: "9000" });
  });

  it("a broken example gives one finding per problem: unknown fields first, each with its fix", () => {
    const raw = {
      ...example(),
      cpus: 4,
      cores: 0,
      network: { cidr: "192.168.3.0/24", dns: ["8.8.8.8", "x"] },
    };
    const result = deploySpecSchema.safeParse(raw);
    expect(result.success).toBe(false);
    const findings = deploySpecFindings(result.error!, raw);
    expect(findings.map((f) => f.field)).toEqual(["cpus", "cores", "network.dns"]);
    expect(findings[0]).toMatchObject({
      code: "SPEC_UNKNOWN_FIELD",
      message: 'Unknown field "cpus".',
      fix:
        "Remove it or check the spelling; known fields: name, platform, os, cores, memory_mib, memory_gib, disk_gb, " +
        "template_id, image, network, ssh_authorized_keys, platform_options, $schema, description.",
    });
    expect(findings[1]).toEqual({
      code: "SPEC_INVALID_FIELD",
      severity: "error",
      field: "cores",
      message: "cores must be an integer between 1 and 512, got 0.",
      fix: 'Set "cores" to a whole number.',
    });
    expect(findings[2]?.message).toBe('network.dns must be a list of IPv4 addresses, got ["8.8.8.8","x"].');
    expect(validateDeploySpec(raw).findings).toEqual(findings);
  });

  it("memory: one of memory_mib and memory_gib", () => {
    const { memory_gib: _gib, ...none } = example();
    expect(validateDeploySpec(none).findings).toEqual([
      expect.objectContaining({ field: "memory_mib", message: expect.stringContaining("got nothing") }),
    ]);
    expect(validateDeploySpec({ ...example(), memory_mib: 2048 }).findings).toEqual([
      expect.objectContaining({ field: "memory_mib", message: "Give memory_mib or memory_gib, not both." }),
    ]);
  });

  it("publishes a draft 2020-12 JSON Schema with an id, a title and described fields", () => {
    const schema = deploySpecJsonSchema();
    expect(schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $id: "https://labgate.dev/schema/deploy.schema.json",
      title: "labgate deployment spec",
      required: ["name", "os", "cores", "network"],
      additionalProperties: false,
    });
    const properties = schema["properties"] as Record<string, Record<string, unknown>>;
    for (const [key, property] of Object.entries(properties))
      expect(property["description"], key).toEqual(expect.any(String));
    expect(properties["platform_options"]).toMatchObject({ type: "object", additionalProperties: {} });
    expect(properties["cores"]).toMatchObject({ type: "integer", minimum: 1, maximum: 512 });
  });
});
