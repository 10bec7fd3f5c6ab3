import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultLabSpec } from "./default-lab-spec.js";
import { BUILTIN_SPEC_SOURCE, loadLabSpec } from "./load-lab-spec.js";
import { parseLabSpec } from "./parse-lab-spec.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-spec-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("parseLabSpec", () => {
  it("fills every default from an empty object", () => {
    expect(parseLabSpec({}, "lab.json")).toEqual(defaultLabSpec());
    expect(defaultLabSpec()).toMatchObject({
      provider: "local",
      network: { cidr: "127.0.0.0/8", dhcp: false },
      apps: { count: 2, ports: [8000, 8001], namePrefix: "app" },
      lb: { port: 8080, statsPort: 8404, name: "lb" },
    });
  });

  it("derives ports from the count and keeps what is given", () => {
    const spec = parseLabSpec(
      {
        name: "edge-lab",
        provider: "lxd",
        network: { cidr: "10.20.0.0/24", gateway: "10.20.0.1", dns: ["10.20.0.1"], name: "lgbr0" },
        apps: { count: 3 },
        lb: { port: 9080, statsPort: 9404, expose: { address: "127.0.0.1", port: 18080 } },
        slos: ["p99<100ms"],
        providerOptions: { socket: "/var/snap/lxd/common/lxd/unix.socket" },
      },
      "lab.yaml",
    );
    expect(spec.apps.ports).toEqual([8000, 8001, 8002]);
    expect(spec.network).toEqual({
      cidr: "10.20.0.0/24",
      gateway: "10.20.0.1",
      dns: ["10.20.0.1"],
      name: "lgbr0",
      dhcp: false,
    });
    expect(spec.lb.expose).toEqual({ address: "127.0.0.1", port: 18080 });
    expect(spec.slos).toEqual(["p99<100ms"]);
  });

  it.each([
    [{ provider: "proxmox" }, 'lab.json: provider: "proxmox" is not a known provider'],
    [{ naem: "x" }, "lab.json: naem: unknown field"],
    [{ name: "Bad_Name" }, 'lab.json: name: "Bad_Name" is not a valid lab name'],
    [
      { apps: { ports: [8000, "x"] } },
      'lab.json: apps.ports[1]: must be a whole number from 1 to 65535, got "x"',
    ],
    [
      { apps: { count: 3, ports: [8000, 8001] } },
      "lab.json: apps.ports: lists 2 port(s) but apps.count is 3",
    ],
    [{ apps: { ports: [8000, 8000] } }, "lab.json: apps.ports[1]: port 8000 is listed twice"],
    [{ lb: { port: 8000 } }, "lab.json: lb.port: port 8000 is also an app port"],
    [{ lb: { statsPort: 8080 } }, "lab.json: lb.statsPort: must differ from lb.port"],
    [{ provider: "lxd" }, 'lab.json: network: is required for provider "lxd"'],
    [{ network: { cidr: "10.0.0.0/33" } }, 'lab.json: network.cidr: "10.0.0.0/33" is not an IPv4 subnet'],
    [{ slos: "p99<1s" }, "lab.json: slos: must be a list"],
    [[1, 2], "lab.json: (document): must be an object, got a list"],
  ])("%j → %s", (raw, message) => {
    expect(() => parseLabSpec(raw, "lab.json")).toThrow(
      expect.objectContaining({
        code: "LAB_SPEC_INVALID",
        exitCode: 2,
        message: expect.stringContaining(message),
      }),
    );
  });
});

describe("loadLabSpec", () => {
  it("uses the built-in default when there is no lab file", async () => {
    expect(await loadLabSpec(undefined, dir)).toEqual({
      spec: defaultLabSpec(),
      source: BUILTIN_SPEC_SOURCE,
    });
  });

  it("finds lab.yaml in the directory and reports YAML syntax errors with the file name", async () => {
    await writeFile(join(dir, "lab.yaml"), "name: yaml-lab\napps:\n  count: 1\n");
    const loaded = await loadLabSpec(undefined, dir);
    expect(loaded.source).toBe("lab.yaml");
    expect(loaded.spec.apps.ports).toEqual([8000]);
    await writeFile(join(dir, "lab.yaml"), "apps: [unclosed\n");
    await expect(loadLabSpec(undefined, dir)).rejects.toMatchObject({
      code: "LAB_SPEC_INVALID",
      message: expect.stringMatching(/^lab.yaml: \(syntax\): is not valid YAML/),
    });
  });

  it("--spec must exist; a JSON file is parsed as JSON", async () => {
    await expect(loadLabSpec("missing.json", dir)).rejects.toMatchObject({
      code: "LAB_SPEC_INVALID",
      message: "missing.json: (file): does not exist",
    });
    await writeFile(join(dir, "my.json"), '{"apps": {"count": 1}, }');
    await expect(loadLabSpec("my.json", dir)).rejects.toMatchObject({
      message: expect.stringContaining("my.json: (syntax): is not valid JSON"),
    });
  });

  it("--spec takes an absolute path as well as one relative to the directory", async () => {
    await writeFile(join(dir, "abs.yaml"), "name: abs-lab\n");
    const elsewhere = await mkdtemp(join(tmpdir(), "labgate-spec-cwd-"));
    try {
      expect((await loadLabSpec(join(dir, "abs.yaml"), elsewhere)).spec.name).toBe("abs-lab");
      expect((await loadLabSpec("abs.yaml", dir)).spec.name).toBe("abs-lab");
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
