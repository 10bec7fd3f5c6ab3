import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { validateDeploySpec, validateIpPoolConfig } from "@labgate/core";
import { parseLabSpec } from "@labgate/lxd-lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCliInProcess } from "../test-support/in-process-cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../../..");
const KINDS = ["lab", "deploy", "pool"] as const;
type Kind = (typeof KINDS)[number];

/** Every shipped document, by the schema that describes it. */
function shipped(): { kind: Kind; file: string; doc: unknown }[] {
  const examples = readdirSync(join(ROOT, "examples"));
  const read = (file: string) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    return file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  };
  const kindOf = (name: string): Kind | undefined =>
    name.startsWith("lab-")
      ? "lab"
      : name.startsWith("deploy-")
        ? "deploy"
        : /^ip[-_]pools/.test(name)
          ? "pool"
          : undefined;
  return [...examples.map((name) => `examples/${name}`), "config/ip_pools.json"].flatMap((file) => {
    const kind = kindOf(file.split("/").pop() ?? "");
    return kind ? [{ kind, file, doc: read(file) }] : [];
  });
}

/**
 * python3-jsonschema (scripts/install-system-deps.sh) checks each published schema against the
 * draft 2020-12 meta-schema, then validates documents with it: an independent validator, not zod.
 */
function jsonSchemaErrors(schema: unknown, docs: unknown[]): string[][] {
  const script = [
    "import json, sys",
    "from jsonschema import Draft202012Validator, FormatChecker",
    "data = json.load(sys.stdin)",
    "Draft202012Validator.check_schema(data['schema'])",
    "v = Draft202012Validator(data['schema'], format_checker=FormatChecker())",
    "print(json.dumps([[e.json_path + ': ' + e.message for e in v.iter_errors(d)] for d in data['docs']]))",
  ].join("\n");
  const out = execFileSync("python3", ["-c", script], { input: JSON.stringify({ schema, docs }) });
  return JSON.parse(out.toString()) as string[][];
}

async function printed(kind: Kind): Promise<Record<string, unknown>> {
  const run = await runCliInProcess(["schema", kind]);
  expect(run, run.stderr).toMatchObject({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe("labgate schema", () => {
  it.each(KINDS)(
    "%s: prints a draft 2020-12 JSON Schema with an id, a title and a description",
    async (kind) => {
      expect(await printed(kind)).toMatchObject({
        $schema: "https://json-schema.org/draft/2020-12/schema",
        $id: expect.stringMatching(/^https:\/\/labgate\.dev\/schema\/.+\.schema\.json$/),
        title: expect.stringContaining("labgate"),
        description: expect.any(String),
        type: "object",
      });
    },
  );

  it("an unknown kind is a usage error (exit 2) naming the kinds there are", async () => {
    const run = await runCliInProcess(["schema", "vm"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("Allowed choices are lab, deploy, pool");
  });

  describe("--out", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "labgate-schema-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("writes the same schema to the file, readable by editors, and nothing else", async () => {
      const file = join(dir, "lab.schema.json");
      const run = await runCliInProcess(["schema", "lab", "--out", file]);
      expect(run).toMatchObject({ code: 0, stdout: "" });
      expect(run.stderr).toContain(file);
      expect(JSON.parse(await readFile(file, "utf8"))).toEqual(await printed("lab"));
      expect((await stat(file)).mode & 0o777).toBe(0o644);
      expect(await readdir(dir)).toEqual(["lab.schema.json"]);
    });

    it("a directory that does not exist is a bad flag (exit 2), with what to do", async () => {
      const run = await runCliInProcess([
        "schema",
        "pool",
        "--out",
        join(dir, "missing", "pool.schema.json"),
      ]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("[INVALID_FLAG]");
      expect(run.stderr).toContain("what to do: Give a file in an existing, writable directory");
    });
  });

  describe("the published schemas agree with the validators", () => {
    const docs = shipped();

    it("covers every shipped example and the seed pool config", () => {
      expect(docs.map((d) => d.kind).sort()).toEqual(
        expect.arrayContaining(["deploy", "lab", "lab", "pool", "pool"]),
      );
      expect(docs.map((d) => d.file)).toContain("config/ip_pools.json");
    });

    it.each(KINDS)(
      "%s: the meta-schema accepts it and every shipped document of its kind validates",
      async (kind) => {
        const mine = docs.filter((d) => d.kind === kind);
        const errors = jsonSchemaErrors(
          await printed(kind),
          mine.map((d) => d.doc),
        );
        expect(Object.fromEntries(mine.map((d, i) => [d.file, errors[i]]))).toEqual(
          Object.fromEntries(mine.map((d) => [d.file, []])),
        );
      },
    );

    it("a broken document fails both the JSON Schema and the validator, at the same field", async () => {
      const lab = {
        ...(parseYaml(readFileSync(join(ROOT, "examples/lab-lxd.yaml"), "utf8")) as object),
        apps: { count: "two" },
      };
      const deploy = {
        ...JSON.parse(readFileSync(join(ROOT, "examples/deploy-proxmox-ubuntu.json"), "utf8")),
        cores: 0,
      };
      const pool = {
        networks: [{ cidr: "10.0.0.0/24", gateway: "10.0.0.1", dns: [], dhcp: "no", pools: [] }],
      };
      expect(jsonSchemaErrors(await printed("lab"), [lab])[0]).toEqual([
        expect.stringContaining("$.apps.count:"),
      ]);
      expect(() => parseLabSpec(lab, "lab.yaml")).toThrow(
        'lab.yaml: apps.count: must be a whole number from 1 to 64, got "two"',
      );
      // The rule across fields is in the JSON Schema too: only the local lab may leave out its network.
      const { network: _network, ...lxdWithoutNetwork } = lab as { network?: unknown };
      expect(jsonSchemaErrors(await printed("lab"), [{ ...lxdWithoutNetwork, apps: {} }])[0]).toEqual([
        expect.stringContaining("'network' is a required property"),
      ]);
      expect(() => parseLabSpec({ ...lxdWithoutNetwork, apps: {} }, "lab.yaml")).toThrow(
        'lab.yaml: network: is required for provider "lxd"',
      );
      expect(jsonSchemaErrors(await printed("lab"), [{ provider: "local" }, {}])).toEqual([[], []]);
      expect(jsonSchemaErrors(await printed("deploy"), [deploy])[0]).toEqual([
        expect.stringContaining("$.cores:"),
      ]);
      expect(validateDeploySpec(deploy).findings).toEqual([
        expect.objectContaining({
          field: "cores",
          message: "cores must be an integer between 1 and 512, got 0.",
        }),
      ]);
      expect(jsonSchemaErrors(await printed("pool"), [pool])[0]).toEqual([
        expect.stringContaining("$.networks[0].dhcp:"),
      ]);
      expect(() => validateIpPoolConfig(pool, "pools.json")).toThrow(
        expect.objectContaining({
          code: "CONFIG_INVALID",
          details: expect.objectContaining({ field: "dhcp" }),
        }),
      );
    });
  });
});
