import { mkdir, readdir, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PreconditionError, writeFileAtomic } from "@labgate/core";
import type { PlanStep, StepCall } from "../engine/plan-step.js";
import { ImageBuildError, LabInterruptedError } from "../errors.js";
import { removeBuildDir } from "./build-dir-mounts.js";
import {
  CACHE_FILES,
  CLOUD_INIT_IMAGE_CONFIG,
  CLOUD_INIT_MASKED_UNITS,
  type ImageBuildOptions,
  renderImageMetadata,
} from "./image-build-options.js";
import { type CachedImageInfo, exists, readCachedImage, splitImageFingerprint } from "./image-cache.js";
import { commandCall, type ImageContext, otherCall } from "./image-context.js";
import { imageImportSteps } from "./image-import-steps.js";
import { HOSTNAME_TEMPLATE, HOSTS_TEMPLATE, INIT_SCRIPT } from "./init-script.js";

/** One step of `labgate image build`: a description the gate shows, and actions run on an ImageContext. */
export type ImageStep = PlanStep<ImageContext>;

const DONE_MARKER = ".debootstrap-done";
const CUSTOMIZED_MARKER = ".customized";
const BUILD_TOOLS = ["debootstrap", "tar", "gzip"] as const;

/** The ordered steps: build into the cache, then (unless --no-import) import into LXD and alias. */
export function imageBuildSteps(o: ImageBuildOptions): ImageStep[] {
  const steps = [checkToolsStep(o), debootstrapStep(o), customizeStep(o), packStep(o)];
  return o.noImport ? steps : [...steps, ...imageImportSteps(o)];
}

/** Is the image in the cache (and not to be rebuilt)? Then the build steps have nothing to do. */
async function cachedFound(
  o: ImageBuildOptions,
): Promise<{ done: true; detail: string; facts: undefined } | undefined> {
  if (o.rebuild || !(await readCachedImage(o))) return undefined;
  return { done: true, detail: `cached in ${o.entryDir}`, facts: undefined };
}

const uidProbe = commandCall("id", ["-u"], "probe");
const toolProbes = BUILD_TOOLS.map((tool) => ({
  tool,
  call: commandCall("sh", ["-c", 'command -v "$1"', "sh", tool], "probe"),
}));

function checkToolsStep(o: ImageBuildOptions): PlanStep<ImageContext, { missing: string[] }> {
  return {
    description: {
      id: "check-tools",
      title: "Check the tools the build needs",
      why:
        "debootstrap builds a Debian root file system from the mirror, which needs root (it creates device nodes and " +
        "chroots) and the debootstrap package; tar and gzip pack the result. When the image is already in the cache, none of this is needed.",
      calls: [uidProbe, ...toolProbes.map((p) => p.call)],
      diagnostics: ["sudo apt-get install -y debootstrap"],
      readOnly: true,
    },
    actions: {
      async check(ctx) {
        const cached = await cachedFound(o);
        if (cached) return { ...cached, facts: { missing: [] } };
        const missing = await missingTools(ctx);
        return missing.length
          ? { done: false, detail: missing.join("; "), facts: { missing } }
          : { done: true, detail: "root, debootstrap, tar, gzip", facts: { missing } };
      },
      async apply(_ctx, found) {
        throw new PreconditionError(
          "IMAGE_BUILD_TOOLS_MISSING",
          `Cannot build the image: ${found.facts.missing.join("; ")}.`,
          { hint: "Run as root: sudo apt-get install -y debootstrap && sudo labgate image build" },
        );
      },
      async verify() {},
      async undo() {},
    },
  };
}

async function missingTools(ctx: ImageContext): Promise<string[]> {
  const missing: string[] = [];
  const uid = await ctx.exec(uidProbe);
  if (uid.exitCode !== 0 || uid.output.trim() !== "0")
    missing.push("not running as root (debootstrap needs it)");
  for (const { tool, call } of toolProbes) {
    if ((await ctx.exec(call)).exitCode !== 0)
      missing.push(
        `${tool} is not installed${tool === "debootstrap" ? " (apt-get install -y debootstrap)" : ""}`,
      );
  }
  return missing;
}

/** Undo of the steps that work in the build dir: the whole dir goes (it is labgate's own, per build). */
function removeBuildCall(o: ImageBuildOptions) {
  return {
    call: otherCall("file", `umount what is left mounted under ${o.buildDir}; rm -rf ${o.buildDir}`),
    run: () => removeBuildDir(o.buildDir),
  };
}

function debootstrapStep(o: ImageBuildOptions): ImageStep {
  const removeBuild = removeBuildCall(o);
  const rootfs = join(o.buildDir, "rootfs");
  const emptyBuildDir = otherCall(
    "file",
    `umount what an interrupted debootstrap left mounted under ${o.buildDir}; rm -rf ${o.buildDir}; mkdir -m 0700 ${o.buildDir}`,
  );
  const debootstrap = commandCall("debootstrap", [
    "--variant=minbase",
    `--include=${o.packages.join(",")}`,
    `--arch=${o.debArch}`,
    o.suite,
    rootfs,
    o.mirror,
  ]);
  const builtDone = async () => (await cachedFound(o)) !== undefined || exists(join(o.buildDir, DONE_MARKER));
  return {
    description: {
      id: "debootstrap",
      title: `Bootstrap Debian ${o.suite} (minbase + ${o.packages.join(", ")})`,
      why:
        `debootstrap downloads the packages of a minimal Debian ${o.suite} from ${o.mirror} (the mirror this machine ` +
        "already uses) and unpacks them into a directory: the image's root file system. " +
        (o.cloudInit
          ? "This variant has systemd and cloud-init, so labs give it its address and payload through LXD's cloud-init " +
            "keys, as on cloud images; containers take some seconds to boot. "
          : "No systemd and no cloud-init, so containers boot in under a second. ") +
        "python3 runs the app and HAProxy the load balancer. A minute or two.",
      calls: [emptyBuildDir, debootstrap],
      undoCalls: [removeBuild.call],
      diagnostics: [
        `tail -50 ${join(rootfs, "debootstrap/debootstrap.log")}`,
        `curl -sI ${o.mirror}/dists/${o.suite}/Release`,
      ],
    },
    actions: {
      async check() {
        const cached = await cachedFound(o);
        if (cached) return cached;
        return (await exists(join(o.buildDir, DONE_MARKER)))
          ? { done: true, detail: `root file system in ${rootfs}`, facts: undefined }
          : { done: false, facts: undefined };
      },
      async apply(ctx) {
        await ctx.perform(emptyBuildDir, async () => {
          await removeBuildDir(o.buildDir);
          await mkdir(o.buildDir, { recursive: true, mode: 0o700 });
        });
        ctx.log(`debootstrap into ${rootfs} (${o.cloudInit ? "a few minutes" : "about a minute"})...`);
        const result = await ctx.exec(debootstrap);
        if (result.exitCode !== 0) {
          const tail = result.output.split("\n").slice(-15).join("\n");
          await removeBuildDir(o.buildDir);
          throwIfInterrupted(ctx.signal, "debootstrap");
          throw new ImageBuildError(
            `debootstrap failed (exit ${result.exitCode}):\n${tail}`,
            `Check that ${o.mirror} is reachable and has ${o.suite}; pass another with --mirror.`,
            { exitCode: result.exitCode },
          );
        }
        await writeFile(join(o.buildDir, DONE_MARKER), "");
      },
      async verify() {
        if (!(await builtDone()))
          throw new ImageBuildError(
            `debootstrap left no finished root file system in ${rootfs}.`,
            "Run `labgate image build` again; the step starts from an empty build directory.",
          );
      },
      undo: (ctx) => ctx.perform(removeBuild.call, removeBuild.run),
    },
  };
}

/** Where the cloud-init variant pins cloud-init to LXD's data source. */
export const CLOUD_INIT_DATASOURCE_FILE = "/etc/cloud/cloud.cfg.d/90-labgate-lxd.cfg";

function customizeStep(o: ImageBuildOptions): ImageStep {
  const removeBuild = removeBuildCall(o);
  const rootfs = join(o.buildDir, "rootfs");
  const meta = join(o.buildDir, "meta");
  // Each call and the code that makes it, side by side: the description lists exactly these.
  const parts: { call: StepCall; run: () => Promise<void> }[] = [
    {
      call: otherCall(
        "file",
        o.cloudInit
          ? `truncate ${rootfs}/etc/machine-id; write ${rootfs}${CLOUD_INIT_DATASOURCE_FILE}; mask ${CLOUD_INIT_MASKED_UNITS.join(" ")} (ln -s /dev/null ${rootfs}/etc/systemd/system/<unit>); write ${rootfs}/etc/hostname, mkdir ${rootfs}/etc/labgate/boot.d`
          : `write ${rootfs}/sbin/init (0755), ${rootfs}/etc/hostname, mkdir ${rootfs}/etc/labgate/boot.d`,
      ),
      run: async () => {
        if (o.cloudInit) await prepareCloudInitRoot(rootfs);
        else await writeFile(join(rootfs, "sbin/init"), INIT_SCRIPT, { mode: 0o755 });
        await mkdir(join(rootfs, "etc/labgate/boot.d"), { recursive: true });
        await writeFile(join(rootfs, "etc/hostname"), "labgate\n");
      },
    },
    {
      call: otherCall("file", `rm -rf ${rootfs}/var/cache/apt/archives/*.deb ${rootfs}/var/lib/apt/lists/*`),
      run: async () => {
        await clearDir(join(rootfs, "var/cache/apt/archives"), (n) => n.endsWith(".deb"));
        await clearDir(join(rootfs, "var/lib/apt/lists"), (n) => n !== "partial" && n !== "lock");
      },
    },
    {
      call: otherCall("file", `write ${meta}/metadata.yaml, ${meta}/templates/{hostname,hosts}.tpl`),
      run: async () => {
        await mkdir(join(meta, "templates"), { recursive: true });
        await writeFile(join(meta, "metadata.yaml"), renderImageMetadata(o, new Date()));
        await writeFile(join(meta, "templates/hostname.tpl"), HOSTNAME_TEMPLATE);
        await writeFile(join(meta, "templates/hosts.tpl"), HOSTS_TEMPLATE);
      },
    },
  ];
  const customized = async () =>
    (await cachedFound(o)) !== undefined || exists(join(o.buildDir, CUSTOMIZED_MARKER));
  return {
    description: {
      id: "customize",
      title: o.cloudInit
        ? "Prepare systemd, cloud-init and the LXD metadata"
        : "Add labgate's init, boot hooks and LXD metadata",
      why:
        (o.cloudInit
          ? "systemd is the init; the machine id is emptied so each container gets its own, and cloud-init is limited " +
            "to LXD's data source so it reads the instance's cloud-init.* keys from /dev/lxd/sock without probing others. " +
            "Units that cannot work in a lab container are masked: binfmt_misc, and apt's daily timers (the lab has no route out). "
          : "A minbase root has no init. labgate adds a small /sbin/init (a shell script) that mounts /run, runs the boot " +
            "hooks the LXD provider leaves in /etc/labgate/boot.d (static address, app, HAProxy), reaps orphans and stops " +
            "cleanly on LXD's stop signal. ") +
        "It also drops apt's package cache and writes metadata.yaml with hostname templates.",
      calls: parts.map((p) => p.call),
      undoCalls: [removeBuild.call],
      needs: ["debootstrap"],
    },
    actions: {
      async check() {
        const cached = await cachedFound(o);
        if (cached) return cached;
        return { done: await exists(join(o.buildDir, CUSTOMIZED_MARKER)), facts: undefined };
      },
      async apply(ctx) {
        for (const part of parts) await ctx.perform(part.call, part.run);
        await writeFile(join(o.buildDir, CUSTOMIZED_MARKER), "");
      },
      async verify() {
        if (!(await customized()))
          throw new ImageBuildError(
            `The root file system in ${rootfs} was not customized.`,
            "Run `labgate image build` again.",
          );
      },
      undo: (ctx) => ctx.perform(removeBuild.call, removeBuild.run),
    },
  };
}

function packStep(o: ImageBuildOptions): ImageStep {
  const rootfs = join(o.buildDir, "rootfs");
  const meta = join(o.buildDir, "meta");
  const staging = `${o.entryDir}.tmp`;
  // --one-file-system: a mount left inside the root never ends up in the image.
  const tar = (dir: string, file: string) =>
    commandCall("tar", [
      "--numeric-owner",
      "--one-file-system",
      "-I",
      "gzip -1",
      "-C",
      dir,
      "-cf",
      join(staging, file),
      ".",
    ]);
  const tarballs = [
    { file: CACHE_FILES.metadata, call: tar(meta, CACHE_FILES.metadata) },
    { file: CACHE_FILES.rootfs, call: tar(rootfs, CACHE_FILES.rootfs) },
  ];
  const prepareStaging = otherCall("file", `rm -rf ${staging}; mkdir ${staging}`);
  const commit = otherCall(
    "file",
    `write ${staging}/${CACHE_FILES.info} (fingerprint, sizes); move ${CACHE_FILES.metadata}, ${CACHE_FILES.rootfs}, then ${CACHE_FILES.info} into ${o.entryDir}`,
  );
  // The unpacked root is 4x the tarball: keep only the cache entry.
  const dropBuildDir = otherCall("file", `rm -rf ${o.buildDir}`);
  const cacheFiles = [CACHE_FILES.info, CACHE_FILES.metadata, CACHE_FILES.rootfs];
  const removeEntry = otherCall("file", `rm -f ${cacheFiles.map((f) => join(o.entryDir, f)).join(" ")}`);
  return {
    description: {
      id: "pack",
      title: `Pack the image into ${o.entryDir}`,
      why:
        "LXD imports an image as two tarballs: metadata (metadata.yaml + templates) and the root file system. They are " +
        "written to the cache first and moved into place only when complete, so later builds (and CI runs) reuse them.",
      calls: [prepareStaging, ...tarballs.map((t) => t.call), commit, dropBuildDir],
      undoCalls: [removeEntry],
      needs: ["customize"],
    },
    actions: {
      async check() {
        const info = await (o.rebuild ? undefined : readCachedImage(o));
        return info
          ? {
              done: true,
              detail: `${o.entryDir} (fingerprint ${info.fingerprint.slice(0, 12)})`,
              facts: undefined,
            }
          : { done: false, facts: undefined };
      },
      async apply(ctx) {
        const started = Date.now();
        await ctx.perform(prepareStaging, async () => {
          await rm(staging, { recursive: true, force: true });
          await mkdir(staging, { recursive: true, mode: 0o755 });
        });
        for (const { file, call } of tarballs) {
          ctx.log(`packing ${file}...`);
          const result = await ctx.exec(call);
          if (result.exitCode !== 0) {
            await rm(staging, { recursive: true, force: true });
            throwIfInterrupted(ctx.signal, "pack");
            throw new ImageBuildError(
              `tar failed (exit ${result.exitCode}): ${result.output.slice(-800)}`,
              "Check free disk space in the cache dir.",
            );
          }
        }
        await ctx.perform(commit, () => commitEntry(o, staging, started));
        await ctx.perform(dropBuildDir, () => removeBuildDir(o.buildDir));
      },
      async verify() {
        if (!(await readCachedImage(o)))
          throw new ImageBuildError(
            `The cache entry ${o.entryDir} is incomplete (${cacheFiles.join(", ")}).`,
            "Run `labgate image build --rebuild`.",
          );
      },
      undo: (ctx) =>
        ctx.perform(removeEntry, async () => {
          // image.json first: a crash part-way leaves an incomplete entry, never a "complete" one.
          for (const f of cacheFiles) await rm(join(o.entryDir, f), { force: true });
        }),
    },
  };
}

/**
 * Moves the packed tarballs into the entry, image.json last: the entry counts as complete only when
 * image.json is there (readCachedImage), so a crash in between leaves an entry that is rebuilt, never
 * one whose image.json describes other tarballs. The entry dir itself stays (it holds the build's progress).
 */
async function commitEntry(o: ImageBuildOptions, staging: string, started: number): Promise<void> {
  const metaPath = join(staging, CACHE_FILES.metadata);
  const rootfsPath = join(staging, CACHE_FILES.rootfs);
  const info: CachedImageInfo = {
    key: o.key,
    fingerprint: await splitImageFingerprint(metaPath, rootfsPath),
    suite: o.suite,
    mirror: o.mirror,
    packages: o.packages,
    architecture: o.lxdArch,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((Date.now() - started) / 1000),
    sizes: { metadata: (await stat(metaPath)).size, rootfs: (await stat(rootfsPath)).size },
  };
  await writeFileAtomic(join(staging, CACHE_FILES.info), `${JSON.stringify(info, null, 2)}\n`, {
    mode: 0o644,
  });
  await mkdir(o.entryDir, { recursive: true, mode: 0o755 });
  await rm(join(o.entryDir, CACHE_FILES.info), { force: true });
  for (const file of [CACHE_FILES.metadata, CACHE_FILES.rootfs, CACHE_FILES.info])
    await rename(join(staging, file), join(o.entryDir, file));
  await rm(staging, { recursive: true, force: true });
}

/** systemd makes a fresh machine id at first boot when the file is empty (not when it is missing). */
async function prepareCloudInitRoot(rootfs: string): Promise<void> {
  await writeFile(join(rootfs, "etc/machine-id"), "");
  await rm(join(rootfs, "var/lib/dbus/machine-id"), { force: true });
  await mkdir(join(rootfs, "etc/cloud/cloud.cfg.d"), { recursive: true });
  await writeFile(join(rootfs, CLOUD_INIT_DATASOURCE_FILE), CLOUD_INIT_IMAGE_CONFIG);
  for (const unit of CLOUD_INIT_MASKED_UNITS) {
    const masked = join(rootfs, "etc/systemd/system", unit);
    await rm(masked, { force: true });
    await symlink("/dev/null", masked);
  }
}

/** Ctrl-C killed the tool: say so (exit 130), not "debootstrap failed (exit 143)". */
function throwIfInterrupted(signal: AbortSignal, stepId: string): void {
  if (!signal.aborted) return;
  throw new LabInterruptedError(
    `Image build interrupted during step "${stepId}"; its half-written files were removed.`,
    "Run `labgate image build` again: finished steps are not repeated.",
    { stepId },
  );
}

async function clearDir(dir: string, remove: (name: string) => boolean): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (remove(name)) await rm(join(dir, name), { recursive: true, force: true });
  }
}
