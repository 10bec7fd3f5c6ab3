import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LabStateStore } from "./lab-state.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-state-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LabStateStore", () => {
  it("readers never see a half-written file while updates run, and no temp file is left", async () => {
    const store = new LabStateStore(join(dir, "lab"));
    await store.update("demo", "fake", () => {});
    let writing = true;
    const reads: Promise<number> = (async () => {
      let n = 0;
      while (writing) {
        const text = await readFile(store.path, "utf8");
        JSON.parse(text); // throws on a torn read
        n++;
      }
      return n;
    })();
    for (let i = 0; i < 40; i++) {
      await store.update("demo", "fake", (s) => {
        s.resources.push({ kind: "file", id: `f${i}`, stepId: "s", data: { pad: "x".repeat(2000) } });
      });
    }
    writing = false;
    expect(await reads).toBeGreaterThan(0);
    expect((await store.load())!.resources).toHaveLength(40);
    expect((await stat(store.path)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, "lab"))).toEqual(["state.json"]);
  });

  it("removeAll removes the whole state dir", async () => {
    const store = new LabStateStore(join(dir, "lab"));
    await store.update("demo", "fake", () => {});
    await store.removeAll();
    await expect(stat(join(dir, "lab"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await store.load()).toBeUndefined();
  });

  it("rejects a state file of another version with the path in the message", async () => {
    const store = new LabStateStore(join(dir, "lab"));
    await store.update("demo", "fake", (s) => {
      (s as { version: number }).version = 9;
    });
    await expect(store.load()).rejects.toMatchObject({
      code: "STATE_CORRUPT",
      message: expect.stringContaining(store.path),
    });
  });
});
