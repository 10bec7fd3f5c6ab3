import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSloFile, loadSloFileFaults } from "./slo.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lgt-slo-faults-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("faults: beside slos: in an SLO file", () => {
  it("are returned as written (YAML and JSON); the SLOs load as before", async () => {
    const yaml = join(dir, "failover.yaml");
    await writeFile(
      yaml,
      'slos:\n  - "fault_errors<1%"\n  - "recovery<5s"\nfaults:\n  - "stop app2 at 5s for 10s"\n',
    );
    expect(await loadSloFileFaults(yaml)).toEqual(["stop app2 at 5s for 10s"]);
    expect((await loadSloFile(yaml)).map((s) => s.metric)).toEqual(["fault_errors", "recovery"]);
    const json = join(dir, "failover.json");
    await writeFile(json, JSON.stringify({ slos: ["p99<250ms"], faults: ["drain app1 at 1s for 2s"] }));
    expect(await loadSloFileFaults(json)).toEqual(["drain app1 at 1s for 2s"]);
  });

  it("are absent from a plain list or a file without them; what is there is passed on unchecked (the lab checks it)", async () => {
    const list = join(dir, "list.yaml");
    await writeFile(list, "- p99<250ms\n");
    expect(await loadSloFileFaults(list)).toBeUndefined();
    const none = join(dir, "none.json");
    await writeFile(none, JSON.stringify({ slos: ["p99<250ms"] }));
    expect(await loadSloFileFaults(none)).toBeUndefined();
    const odd = join(dir, "odd.json");
    await writeFile(odd, JSON.stringify({ slos: [], faults: "stop app2" }));
    expect(await loadSloFileFaults(odd)).toBe("stop app2");
  });

  it("a file that cannot be read or parsed is the same error as for its SLOs (exit 2)", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{ not json");
    await expect(loadSloFileFaults(bad)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining("is not valid JSON"),
    });
    await expect(loadSloFileFaults(join(dir, "missing.yaml"))).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining("cannot read the SLO file"),
    });
  });
});
