import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
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

  it("removeOwned removes the state dir it created, with what steps wrote, and nothing it did not create", async () => {
    const store = new LabStateStore(join(dir, "labs", "lab"));
    await store.ensureDir();
    await store.update("demo", "fake", () => {});
    const before = await store.entries();
    await writeFile(join(dir, "labs", "lab", "app.log"), "x");
    await store.adoptNewEntries("demo", "fake", before);
    expect((await store.load())!.owned).toEqual({
      stateDir: true,
      createdTop: join(dir, "labs"),
      entries: ["app.log"],
    });
    expect(await store.removeOwned()).toEqual({ stateDirRemoved: true, foreign: [] });
    // The parent labgate made for it goes too; the temp dir it sits in (not labgate's) stays.
    await expect(stat(join(dir, "labs"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readdir(dir)).toEqual([]);
    expect(await store.load()).toBeUndefined();
  });

  it("removeOwned keeps a state dir that existed before, its mode, and every file it did not create", async () => {
    await chmod(dir, 0o755);
    await writeFile(join(dir, "lab.yaml"), "name: mine\n");
    const store = new LabStateStore(dir);
    expect(await store.ensureDir()).toBeUndefined();
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
    await store.update("demo", "fake", () => {});
    const before = await store.entries();
    await mkdir(join(dir, "logs"));
    await writeFile(join(dir, "logs", "app.log"), "x");
    await store.adoptNewEntries("demo", "fake", before);
    await writeFile(join(dir, "notes.txt"), "written by the user after the lab was built");
    expect((await store.load())!.owned).toEqual({ stateDir: false, entries: ["logs"] });
    expect(await store.removeOwned()).toEqual({
      stateDirRemoved: false,
      foreign: ["lab.yaml", "notes.txt"],
    });
    expect((await readdir(dir)).sort()).toEqual(["lab.yaml", "notes.txt"]);
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
  });

  it("removeOwned never follows a hand-edited entry outside the state dir", async () => {
    const store = new LabStateStore(join(dir, "lab"));
    await writeFile(join(dir, "precious"), "keep");
    await store.update("demo", "fake", (s) => {
      s.owned = { stateDir: true, entries: ["../precious", ".."] };
    });
    await store.load();
    await store.removeOwned();
    expect(await readFile(join(dir, "precious"), "utf8")).toBe("keep");
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
