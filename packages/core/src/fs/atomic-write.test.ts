import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removeOrphanTempFiles, writeFileAtomic } from "./atomic-write.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited, so no live process has it (until the pid is reused). */
async function deadPid(): Promise<number> {
  const child = spawn("true", { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

describe("writeFileAtomic", () => {
  it("replaces the file and leaves no temp file behind", async () => {
    const path = join(dir, "state.json");
    await writeFileAtomic(path, "one\n");
    await writeFileAtomic(path, "two\n");
    expect(await readFile(path, "utf8")).toBe("two\n");
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("sets the mode it is given whatever the umask: 0600 by default", async () => {
    const previous = process.umask(0o000);
    try {
      await writeFileAtomic(join(dir, "secret.json"), "{}");
      process.umask(0o077);
      await writeFileAtomic(join(dir, "report.json"), "{}", { mode: 0o644 });
    } finally {
      process.umask(previous);
    }
    expect((await stat(join(dir, "secret.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "report.json"))).mode & 0o777).toBe(0o644);
  });

  it("a failed rename keeps what was there and removes its temp file", async () => {
    const path = join(dir, "taken");
    await mkdir(path);
    await writeFile(join(path, "inside"), "kept");
    await expect(writeFileAtomic(path, "new")).rejects.toMatchObject({ code: expect.any(String) });
    expect((await readdir(dir)).sort()).toEqual(["taken"]);
    expect(await readFile(join(path, "inside"), "utf8")).toBe("kept");
  });
});

describe("removeOrphanTempFiles", () => {
  it("removes the temp files of dead writers of that file only", async () => {
    const path = join(dir, "state.json");
    const dead = await deadPid();
    const orphan = `.state.json.${dead}.0123456789ab.tmp`;
    const kept = [
      "state.json",
      `.state.json.${process.pid}.0123456789ab.tmp`, // a writer that is still running (this one)
      `.other.json.${dead}.0123456789ab.tmp`, // another file's
      `.state.json.${dead}.notours.tmp`, // not a name writeFileAtomic makes
    ];
    for (const name of [orphan, ...kept]) await writeFile(join(dir, name), "x");
    expect(await removeOrphanTempFiles(path)).toEqual([orphan]);
    expect((await readdir(dir)).sort()).toEqual([...kept].sort());
  });

  it("matches the names writeFileAtomic really uses", async () => {
    // A writer's temp file, caught before its rename by reading the directory while it writes.
    const path = join(dir, "state.json");
    const big = "x".repeat(8 * 1024 * 1024);
    const seen = new Set<string>();
    const writing = writeFileAtomic(path, big);
    for (let i = 0; i < 200 && seen.size === 0; i++) {
      for (const name of await readdir(dir)) if (name.endsWith(".tmp")) seen.add(name);
      await new Promise((r) => setImmediate(r));
    }
    await writing;
    const [name] = [...seen];
    expect(name).toBeDefined();
    // Rename the pid part to a dead one: the cleaner must recognise the rest of the name.
    const dead = await deadPid();
    const orphan = (name as string).replace(`.${process.pid}.`, `.${dead}.`);
    await writeFile(join(dir, orphan), "x");
    expect(await removeOrphanTempFiles(path)).toEqual([orphan]);
  });
});
