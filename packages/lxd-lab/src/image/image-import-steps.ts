import { join } from "node:path";
import type { PlanStep } from "../engine/plan-step.js";
import { ImageBuildError } from "../errors.js";
import { lxdLogCommand } from "../host-prep/lxd-daemon.js";
import { CACHE_FILES, type ImageBuildOptions, imageProperties } from "./image-build-options.js";
import { readCachedImage } from "./image-cache.js";
import { type ImageContext, otherCall } from "./image-context.js";
import { removeReplacedBuild } from "./replaced-image.js";

/** What the import step found: the fingerprint of the cached build it uploads. */
interface CachedBuild {
  fingerprint: string | undefined;
}

/** What the alias step found: the build it points the alias at, and where the alias points now. */
interface AliasFacts extends CachedBuild {
  previous: string | undefined;
}

/** Upload the cached tarballs to LXD and point the alias at them (not with --no-import). */
export function imageImportSteps(
  o: ImageBuildOptions,
): [PlanStep<ImageContext, CachedBuild>, PlanStep<ImageContext, AliasFacts>] {
  return [importStep(o), aliasStep(o)];
}

function notCached(what: string): ImageBuildError {
  return new ImageBuildError(`${what} is not in the cache.`, "Run `labgate image build` without --step.");
}

function importStep(o: ImageBuildOptions): PlanStep<ImageContext, CachedBuild> {
  const upload = otherCall(
    "http",
    `POST /1.0/images  (multipart: metadata=${CACHE_FILES.metadata}, rootfs=${CACHE_FILES.rootfs}; X-LXD-properties: ${new URLSearchParams(imageProperties(o)).toString()}) + GET /1.0/operations/<id>/wait`,
  );
  const remove = otherCall(
    "http",
    "DELETE /1.0/images/<fingerprint>   # only this build, and only when no alias names it",
  );
  return {
    description: {
      id: "import",
      title: "Import the image into LXD",
      why:
        "The two tarballs are uploaded to LXD's image store over its REST API (POST /1.0/images, multipart). LXD " +
        "identifies an image by the SHA-256 of its tarballs, so an image already imported is found and not uploaded twice.",
      calls: [upload],
      undoCalls: [remove],
      diagnostics: ["lxc image list", lxdLogCommand()],
      needs: ["pack"],
    },
    actions: {
      async check(ctx) {
        const fingerprint = (await readCachedImage(o))?.fingerprint;
        if (!fingerprint) return { done: false, detail: "not built yet", facts: { fingerprint } };
        const image = await ctx.lxd().getImage(fingerprint);
        return image
          ? { done: true, detail: `LXD has ${fingerprint.slice(0, 12)}`, facts: { fingerprint } }
          : { done: false, facts: { fingerprint } };
      },
      async apply(ctx, { facts: { fingerprint } }) {
        if (!fingerprint) throw notCached("The image tarballs are");
        ctx.log(`uploading ${o.entryDir} to LXD...`);
        const imported = await ctx.perform(upload, () =>
          ctx.lxd().importImage({
            metadataPath: join(o.entryDir, CACHE_FILES.metadata),
            rootfsPath: join(o.entryDir, CACHE_FILES.rootfs),
            properties: imageProperties(o),
            signal: ctx.signal,
          }),
        );
        if (imported !== fingerprint) {
          throw new ImageBuildError(
            `LXD computed fingerprint ${imported} but the cache says ${fingerprint}.`,
            "The cache entry may be damaged: labgate image build --rebuild",
          );
        }
      },
      async verify(ctx) {
        const fingerprint = (await readCachedImage(o))?.fingerprint;
        if (!fingerprint || !(await ctx.lxd().getImage(fingerprint)))
          throw new ImageBuildError(
            `LXD does not have the cached build${fingerprint ? ` ${fingerprint.slice(0, 12)}` : ""}.`,
            "Run `labgate image build` again; check `lxc image list`.",
          );
      },
      async undo(ctx) {
        const fingerprint = (await readCachedImage(o))?.fingerprint;
        if (!fingerprint) return;
        const image = await ctx.lxd().getImage(fingerprint);
        // Only this build, and only when nothing names it any more (the alias step's undo runs first).
        if (!image || image.properties["labgate.key"] !== o.key || image.aliases.length > 0) return;
        await ctx.perform(remove, () => ctx.lxd().deleteImage(fingerprint, { signal: ctx.signal }));
      },
    },
  };
}

function aliasStep(o: ImageBuildOptions): PlanStep<ImageContext, AliasFacts> {
  const point = otherCall(
    "http",
    `POST /1.0/images/aliases {"name":"${o.alias}","target":"<fingerprint>"}   (or PUT when it exists)`,
  );
  const dropReplaced = otherCall(
    "http",
    "DELETE /1.0/images/<older fingerprint>   # only an older labgate build with no alias left",
  );
  const unalias = otherCall(
    "http",
    `DELETE /1.0/images/aliases/${o.alias}   # only when it names this build`,
  );
  return {
    description: {
      id: "alias",
      title: `Point the alias ${o.alias} at the image`,
      why:
        `Labs name their image by alias ("image": "${o.alias}"); the alias is created, or moved from an older build ` +
        "to this one. An older labgate build left without any alias is then deleted from LXD's image store " +
        "(containers made from it keep running: LXD copies an image into each container).",
      calls: [point, dropReplaced],
      undoCalls: [unalias],
      needs: ["import"],
    },
    actions: {
      async check(ctx) {
        const fingerprint = (await readCachedImage(o))?.fingerprint;
        const previous = (await ctx.lxd().getImageAlias(o.alias))?.target;
        const facts = { fingerprint, previous };
        if (!previous) return { done: false, detail: `no alias ${o.alias}`, facts };
        return previous === fingerprint
          ? { done: true, detail: `${o.alias} → ${previous.slice(0, 12)}`, facts }
          : { done: false, detail: `${o.alias} → ${previous.slice(0, 12)} (older build)`, facts };
      },
      async apply(ctx, { facts: { fingerprint, previous } }) {
        if (!fingerprint) throw notCached("The image");
        const client = ctx.lxd();
        await ctx.perform(point, () =>
          client.setImageAlias(o.alias, fingerprint, `labgate Debian ${o.suite}`),
        );
        if (previous && previous !== fingerprint)
          ctx.log(await ctx.perform(dropReplaced, () => removeReplacedBuild(client, previous, ctx.signal)));
      },
      async verify(ctx) {
        const fingerprint = (await readCachedImage(o))?.fingerprint;
        const target = (await ctx.lxd().getImageAlias(o.alias))?.target;
        if (!fingerprint || target !== fingerprint)
          throw new ImageBuildError(
            `The alias ${o.alias} does not point at the cached build (it points at ${target ?? "nothing"}).`,
            "Run `labgate image build` again; check `lxc image alias list`.",
          );
      },
      async undo(ctx) {
        const fingerprint = (await readCachedImage(o))?.fingerprint;
        const client = ctx.lxd();
        if (!fingerprint || (await client.getImageAlias(o.alias))?.target !== fingerprint) return;
        await ctx.perform(unalias, () =>
          client.transport.json({
            method: "DELETE",
            path: `/1.0/images/aliases/${encodeURIComponent(o.alias)}`,
          }),
        );
      },
    },
  };
}
