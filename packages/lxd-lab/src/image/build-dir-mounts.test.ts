import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mountsUnder, removeBuildDir } from "./build-dir-mounts.js";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("mountsUnder", () => {
  it("lists mount points strictly inside the directory, deepest first, unescaping \\040", () => {
    const info = [
      "22 1 0:21 / /proc rw,nosuid - proc proc rw",
      "90 80 0:5 / /c/x.build/rootfs/proc rw - proc proc rw",
      "91 80 0:6 /shm /c/x.build/rootfs/dev/shm rw - tmpfs tmpfs rw",
      "92 80 0:7 / /c/x.build/with\\040space rw - tmpfs tmpfs rw",
      "93 80 0:8 / /c/x.build rw - tmpfs tmpfs rw",
      "94 80 0:9 / /c/x.build2/rootfs/proc rw - proc proc rw",
    ].join("\n");
    expect(mountsUnder("/c/x.build", info)).toEqual([
      "/c/x.build/rootfs/dev/shm",
      "/c/x.build/rootfs/proc",
      "/c/x.build/with space",
    ]);
  });
});

describe.skipIf(!isRoot)("removeBuildDir (needs root to mount)", () => {
  it("unmounts what an interrupted debootstrap left, so the host side of a bind mount survives", async () => {
    const base = await mkdtemp(join(tmpdir(), "labgate-build-mounts-"));
    const host = join(base, "host-shm");
    const build = join(base, "x.build");
    const target = join(build, "rootfs/dev/shm");
    try {
      await mkdir(host);
      await writeFile(join(host, "sentinel"), "keep me\n");
      await mkdir(target, { recursive: true });
      await mkdir(join(build, "rootfs/proc"));
      execFileSync("mount", ["--bind", host, target]);
      execFileSync("mount", ["-t", "proc", "proc", join(build, "rootfs/proc")]);
      await removeBuildDir(build);
      await expect(stat(build)).rejects.toThrow();
      expect(await readFile(join(host, "sentinel"), "utf8")).toBe("keep me\n");
      expect(mountsUnder(base, await readFile("/proc/self/mountinfo", "utf8"))).toEqual([]);
    } finally {
      for (const point of mountsUnder(base, await readFile("/proc/self/mountinfo", "utf8")))
        execFileSync("umount", ["-l", point]);
      await rm(base, { recursive: true, force: true });
    }
  });
});
