import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { validateIpPoolConfig } from "./config.js";
import { ipPoolConfigJsonSchema, ipPoolConfigSchema, poolSchemaProblem } from "./config-schema.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../../..");
const SHIPPED = ["config/ip_pools.json", "examples/ip-pools-opennebula-sim.json"];
const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), "utf8")) as Record<string, unknown>;

describe("the IP pool config schema", () => {
  it.each(SHIPPED)("%s passes the schema (its notes aside) and the validator", (file) => {
    const raw = read(file);
    const { $comment: _note, ...data } = raw;
    expect(ipPoolConfigSchema.safeParse(data).success).toBe(true);
    expect(validateIpPoolConfig(raw, file).networks.length).toBeGreaterThan(0);
  });

  it("a broken seed config fails with the network, the field and a code", () => {
    const raw = read("config/ip_pools.json");
    (raw["networks"] as Record<string, unknown>[])[1]!["pools"] = [{ start: "192.168.2.30" }];
    const { $comment: _note, ...data } = raw;
    const result = ipPoolConfigSchema.safeParse(data);
    expect(result.success).toBe(false);
    expect(poolSchemaProblem(result.error!)).toEqual({
      networkIndex: 1,
      field: "pools[0]",
      code: "CONFIG_INVALID",
      message: 'must be {"start": "a.b.c.d", "end": "a.b.c.d"}',
    });
    expect(() => validateIpPoolConfig(raw, "ip_pools.json")).toThrow(
      'ip_pools.json: network 192.168.2.0/24, field "pools[0]": must be {"start": "a.b.c.d", "end": "a.b.c.d"}.',
    );
  });

  it("names the entry of an address list that is not a string", () => {
    const result = ipPoolConfigSchema.safeParse({ networks: [], defaultDns: ["8.8.8.8", 8] });
    expect(poolSchemaProblem(result.error!)).toEqual({
      field: "defaultDns",
      code: "CONFIG_INVALID",
      message: "entry 1 must be an address string",
    });
  });

  it("publishes a draft 2020-12 JSON Schema that allows the notes the validator allows", () => {
    const schema = ipPoolConfigJsonSchema();
    expect(schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $id: "https://labgate.dev/schema/ip-pools.schema.json",
      title: "labgate IP pool config",
      required: ["networks"],
      additionalProperties: false,
      patternProperties: { "^(\\$|_)|^comment$": {} },
    });
    const network = (schema["properties"] as { networks: { items: Record<string, unknown> } }).networks.items;
    expect(network).toMatchObject({
      required: ["cidr", "gateway", "dns", "dhcp", "pools"],
      patternProperties: { "^(\\$|_)|^comment$": {} },
      properties: { probe: { enum: ["arp", "ping", "none"] } },
    });
    // The notes validateIpPoolConfig skips are exactly the keys the pattern lets through.
    const [pattern = ""] = Object.keys(schema["patternProperties"] as object);
    const notes = new RegExp(pattern);
    expect(["$comment", "$schema", "_why", "comment"].filter((k) => notes.test(k))).toHaveLength(4);
    expect(["networks", "comments", "probe"].filter((k) => notes.test(k))).toEqual([]);
  });
});
