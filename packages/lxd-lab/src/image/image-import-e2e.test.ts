import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LxdClient } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../engine/gate.js";
import { failUnlessUsable, lxdE2eState } from "../providers/lxd/test-support/lxd-e2e-env.js";
import { CACHE_FILES, type ImageBuildOptions, imageBuildOptions } from "./image-build-options.js";
import { imageBuildSteps } from "./image-build-steps.js";
import { splitImageFingerprint } from "./image-cache.js";
import { imageContext } from "./image-context.js";
import { memoryPlanStore } from "./image-progress-store.js";
import { runImageBuild } from "./run-image-build.js";
import { callRecorder, type MadeCall } from "./test-support/call-recorder.js";

/**
 * The import and alias steps of `labgate image build` against the real daemon, with tiny
 * hand-made cache entries instead of a debootstrap run: upload over the REST API (multipart),
 * idempotent re-run, alias moved to a new build, the replaced labgate build removed and a
 * foreign image kept. Talks only to the local LXD socket.
 */
const state = await lxdE2eState([]);
failUnlessUsable("LXD image import", state);

/** A split image LXD accepts: metadata.yaml and a root with one file whose content tells builds apart. */
async function writeCacheEntry(o: ImageBuildOptions, marker: string): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), "labgate-img-src-"));
  try {
    await mkdir(join(work, "meta"));
    await mkdir(join(work, "rootfs/etc"), { recursive: true });
    await writeFile(
      join(work, "meta/metadata.yaml"),
      // `properties` as in every labgate build: LXD 5.0.2 panics ("assignment to entry in nil map")
      // on an import with X-LXD-properties whose metadata.yaml has none.
      `architecture: ${o.lxdArch}\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  os: none\n`,
    );
    await writeFile(join(work, "rootfs/etc/labgate-build"), `${marker}\n`);
    await rm(o.entryDir, { recursive: true, force: true });
    await mkdir(o.entryDir, { recursive: true });
    for (const [dir, file] of [
      ["meta", CACHE_FILES.metadata],
      ["rootfs", CACHE_FILES.rootfs],
    ] as const) {
      execFileSync("tar", ["--numeric-owner", "-czf", join(o.entryDir, file), "-C", join(work, dir), "."]);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const fingerprint = await splitImageFingerprint(
    join(o.entryDir, CACHE_FILES.metadata),
    join(o.entryDir, CACHE_FILES.rootfs),
  );
  await writeFile(join(o.entryDir, CACHE_FILES.info), JSON.stringify({ key: o.key, fingerprint }));
  return fingerprint;
}

describe.skipIf(!state.ok)(`LXD image import${state.ok ? "" : ` (skipped: ${state.reason})`}`, () => {
  const client = new LxdClient();
  const alias = `labgate-test/import-${process.pid}`;
  const created = new Set<string>();
  let cacheDir: string;
  let o: ImageBuildOptions;
  const logs: string[] = [];

  /** Every LXD call the steps make, with the step making it: each must be one its description shows. */
  const made: MadeCall[] = [];
  const importAndAlias = () => {
    const { ctx, attributed } = callRecorder(
      imageContext(
        o,
        () => client,
        (m) => logs.push(m),
        new AbortController().signal,
      ),
      made,
    );
    return runImageBuild({
      ctx,
      steps: imageBuildSteps(o)
        .filter((s) => ["import", "alias"].includes(s.description.id))
        .map(attributed),
      gate: autoYesGate(),
      store: memoryPlanStore(),
    });
  };
  /** What the steps' apply made (their checks and verifies only read). */
  const applied = () => made.filter((m) => m.phase === "apply").map((m) => [m.step, m.call.display]);
  const describedCalls = (id: string) =>
    imageBuildSteps(o)
      .find((s) => s.description.id === id)
      ?.description.calls.map((c) => c.display);

  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), "labgate-img-cache-"));
    o = imageBuildOptions({ cacheDir, alias }, "http://deb.debian.org/debian");
  });

  afterAll(async () => {
    await client.transport
      .json({ method: "DELETE", path: `/1.0/images/aliases/${encodeURIComponent(alias)}` })
      .catch(() => {});
    for (const fp of created) await client.deleteImage(fp).catch(() => {});
    await rm(cacheDir, { recursive: true, force: true });
  }, 60_000);

  it("imports the cached tarballs over the REST API, points the alias at them, and a re-run changes nothing", async () => {
    const fp = await writeCacheEntry(o, "build A");
    created.add(fp);
    made.length = 0;
    const first = await importAndAlias();
    expect(first.steps.map((s) => s.outcome)).toEqual(["applied", "applied"]);
    // A new alias: the upload, then the alias (no older build to remove).
    expect(applied()).toEqual([
      ["import", describedCalls("import")?.[0]],
      ["alias", describedCalls("alias")?.[0]],
    ]);
    const image = await client.resolveImageAlias(alias);
    expect(image?.fingerprint).toBe(fp);
    expect(image?.properties["labgate.key"]).toBe(o.key);
    expect(image?.properties["labgate.cloud_init"]).toBe("false");

    const again = await importAndAlias();
    expect(again.changed).toBe(false);
    expect(again.steps.map((s) => s.outcome)).toEqual(["already-done", "already-done"]);
  }, 120_000);

  it("a new build moves the alias and removes the replaced labgate build", async () => {
    const old = (await client.getImageAlias(alias))?.target ?? "";
    const fp = await writeCacheEntry(o, "build B");
    created.add(fp);
    made.length = 0;
    await importAndAlias();
    // Moving the alias off an older build also makes the described removal of it.
    expect(applied()).toEqual([
      ["import", describedCalls("import")?.[0]],
      ["alias", describedCalls("alias")?.[0]],
      ["alias", describedCalls("alias")?.[1]],
    ]);
    expect((await client.getImageAlias(alias))?.target).toBe(fp);
    expect(await client.getImage(old)).toBeUndefined();
    expect(logs.join("\n")).toContain(`removed the previous labgate build ${old.slice(0, 12)}`);
  }, 120_000);

  it("an image that is not a labgate build is kept when the alias moves off it", async () => {
    const foreignEntry = imageBuildOptions(
      { cacheDir: join(cacheDir, "foreign"), alias },
      "http://deb.debian.org/debian",
    );
    await writeCacheEntry(foreignEntry, "someone else's image");
    const foreign = await client.importImage({
      metadataPath: join(foreignEntry.entryDir, CACHE_FILES.metadata),
      rootfsPath: join(foreignEntry.entryDir, CACHE_FILES.rootfs),
    });
    created.add(foreign);
    await client.setImageAlias(alias, foreign);
    await importAndAlias();
    expect((await client.getImageAlias(alias))?.target).not.toBe(foreign);
    expect((await client.getImage(foreign))?.fingerprint).toBe(foreign);
    expect(logs.join("\n")).toContain("it is not a labgate build");
  }, 120_000);
});
