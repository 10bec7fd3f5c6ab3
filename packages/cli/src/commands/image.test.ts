import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { imageBuildOptions, splitImageFingerprint } from "@labgate/lxd-lab";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { imageBuildCommand } from "./image.js";
import type { LabIo } from "./lab-context.js";

const MIRROR = "http://deb.debian.org/debian";

function io(): LabIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = "";
  let e = "";
  stdout.on("data", (c: Buffer) => {
    o += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    e += c.toString();
  });
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  return {
    stdin,
    stdout,
    stderr,
    cwd: process.cwd(),
    signal: new AbortController().signal,
    out: () => o,
    err: () => e,
  };
}

describe("labgate image build", () => {
  let cache: string;
  beforeEach(async () => {
    cache = await mkdtemp(join(tmpdir(), "labgate-image-cache-"));
  });
  afterEach(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it("--dry-run shows what would run and changes nothing", async () => {
    const t = io();
    const code = await imageBuildCommand(
      { dryRun: true, import: false, cache, mirror: MIRROR, json: true },
      t,
    );
    expect(code).toBe(0);
    const result = JSON.parse(t.out()) as {
      dryRun: boolean;
      changed: boolean;
      steps: { id: string; outcome: string; commands: string[] }[];
    };
    expect(result.dryRun).toBe(true);
    expect(result.changed).toBe(false);
    const byId = Object.fromEntries(result.steps.map((s) => [s.id, s]));
    expect(byId.debootstrap?.outcome).toBe("would-run");
    expect(byId.debootstrap?.commands.find((c) => c.startsWith("debootstrap "))).toMatch(
      /^debootstrap --variant=minbase --include=haproxy,iproute2,procps,python3 --arch=\w+ bookworm .* http:\/\/deb\.debian\.org\/debian$/,
    );
    expect(byId.pack?.outcome).toBe("would-run");
    expect(result.steps.map((s) => s.id)).not.toContain("import");
    expect(await readdir(cache)).toEqual([]);
  });

  it("--cloud-init builds the cloud-init variant under its own alias", async () => {
    const t = io();
    const code = await imageBuildCommand(
      { dryRun: true, import: false, cloudInit: true, cache, mirror: MIRROR, json: true },
      t,
    );
    expect(code).toBe(0);
    const result = JSON.parse(t.out()) as { alias: string; steps: { id: string; commands: string[] }[] };
    expect(result.alias).toBe("labgate/debian-bookworm-cloud");
    const debootstrap =
      result.steps.find((s) => s.id === "debootstrap")?.commands.find((c) => c.startsWith("debootstrap ")) ??
      "";
    expect(debootstrap).toMatch(/--include=\S*cloud-init\S*systemd-sysv/);
    expect(await readdir(cache)).toEqual([]);
  });

  it("without a terminal and without --yes it refuses before the first change", async () => {
    const t = io();
    const error = await imageBuildCommand({ import: false, cache, mirror: MIRROR }, t).catch(
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe("NOT_CONFIRMED");
    expect(await readdir(cache)).toEqual([]);
  });

  it("a complete cache entry is reused: nothing is built again", async () => {
    const o = imageBuildOptions({ cacheDir: cache }, MIRROR);
    await mkdir(o.entryDir, { recursive: true });
    await writeFile(join(o.entryDir, "meta.tar.gz"), "meta");
    await writeFile(join(o.entryDir, "rootfs.tar.gz"), "rootfs");
    const fingerprint = await splitImageFingerprint(
      join(o.entryDir, "meta.tar.gz"),
      join(o.entryDir, "rootfs.tar.gz"),
    );
    await writeFile(join(o.entryDir, "image.json"), JSON.stringify({ key: o.key, fingerprint }));
    const t = io();
    const code = await imageBuildCommand({ yes: true, import: false, cache, mirror: MIRROR, json: true }, t);
    expect(code).toBe(0);
    const result = JSON.parse(t.out()) as {
      changed: boolean;
      fingerprint: string;
      steps: { outcome: string }[];
    };
    expect(result.changed).toBe(false);
    expect(result.fingerprint).toBe(fingerprint);
    expect(result.steps.every((s) => s.outcome === "already-done")).toBe(true);
  });
});
