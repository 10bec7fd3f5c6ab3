import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, mkdir, readdir, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type LxdClient, PreconditionError, readJsonFile, writeFileAtomic } from "@labgate/core";
import { execa } from "execa";
import { ImageBuildError, LabInterruptedError } from "../errors.js";
import { lxdLogCommand } from "../host-prep/lxd-daemon.js";
import { removeBuildDir } from "./build-dir-mounts.js";
import {
  CACHE_FILES,
  CLOUD_INIT_IMAGE_CONFIG,
  CLOUD_INIT_MASKED_UNITS,
  type ImageBuildOptions,
  imageProperties,
  renderImageMetadata,
} from "./image-build-options.js";
import { HOSTNAME_TEMPLATE, HOSTS_TEMPLATE, INIT_SCRIPT } from "./init-script.js";
import { removeReplacedBuild } from "./replaced-image.js";

/** One step of `labgate image build`: shown, explained and confirmed like a lab step. */
export interface ImageStep {
  id: string;
  title: string;
  why: string;
  commands: string[];
  diagnostics?: string[];
  check(): Promise<{ done: boolean; detail?: string }>;
  apply(signal: AbortSignal, log: (message: string) => void): Promise<void>;
}

/** What the cache entry records about the built image. */
export interface CachedImageInfo {
  key: string;
  fingerprint: string;
  suite: string;
  mirror: string;
  packages: string[];
  architecture: string;
  builtAt: string;
  buildSeconds: number;
  sizes: { metadata: number; rootfs: number };
}

const DONE_MARKER = ".debootstrap-done";
const CUSTOMIZED_MARKER = ".customized";

export async function readCachedImage(o: ImageBuildOptions): Promise<CachedImageInfo | undefined> {
  const info = (await readJsonFile(join(o.entryDir, CACHE_FILES.info))) as CachedImageInfo | undefined;
  if (!info) return undefined;
  const present = await Promise.all(
    [CACHE_FILES.metadata, CACHE_FILES.rootfs].map((f) =>
      access(join(o.entryDir, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return present.every(Boolean) ? info : undefined;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The ordered steps; `clientFor` is only called by the import steps (not with --no-import). */
export function imageBuildSteps(o: ImageBuildOptions, clientFor: () => LxdClient): ImageStep[] {
  const rootfs = join(o.buildDir, "rootfs");
  const meta = join(o.buildDir, "meta");
  const cached = async () => (o.rebuild ? undefined : readCachedImage(o));
  const debootstrapArgs = [
    "--variant=minbase",
    `--include=${o.packages.join(",")}`,
    `--arch=${o.debArch}`,
    o.suite,
    rootfs,
    o.mirror,
  ];

  const steps: ImageStep[] = [
    {
      id: "check-tools",
      title: "Check the tools the build needs",
      why:
        "debootstrap builds a Debian root file system from the mirror, which needs root (it creates device nodes and " +
        "chroots) and the debootstrap package; tar and gzip pack the result. When the image is already in the cache, none of this is needed.",
      commands: ["id -u   # must be 0", "command -v debootstrap tar gzip"],
      diagnostics: ["sudo apt-get install -y debootstrap"],
      async check() {
        if (await cached()) return { done: true, detail: `cached in ${o.entryDir}` };
        const missing = await missingTools();
        return missing.length
          ? { done: false, detail: missing.join("; ") }
          : { done: true, detail: "root, debootstrap, tar, gzip" };
      },
      async apply() {
        const missing = await missingTools();
        if (missing.length) {
          throw new PreconditionError(
            "IMAGE_BUILD_TOOLS_MISSING",
            `Cannot build the image: ${missing.join("; ")}.`,
            {
              hint: "Run as root: sudo apt-get install -y debootstrap && sudo labgate image build",
            },
          );
        }
      },
    },
    {
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
      commands: [`debootstrap ${debootstrapArgs.join(" ")}`],
      diagnostics: [
        `tail -50 ${join(rootfs, "debootstrap/debootstrap.log")}`,
        `curl -sI ${o.mirror}/dists/${o.suite}/Release`,
      ],
      async check() {
        if (await cached()) return { done: true, detail: `cached in ${o.entryDir}` };
        return (await exists(join(o.buildDir, DONE_MARKER)))
          ? { done: true, detail: `root file system in ${rootfs}` }
          : { done: false };
      },
      async apply(signal, log) {
        await removeBuildDir(o.buildDir);
        await mkdir(o.buildDir, { recursive: true, mode: 0o700 });
        log(`debootstrap into ${rootfs} (${o.cloudInit ? "a few minutes" : "about a minute"})...`);
        const result = await execa("debootstrap", debootstrapArgs, {
          reject: false,
          all: true,
          cancelSignal: signal,
        });
        if (result.exitCode !== 0) {
          const tail = (result.all ?? "").split("\n").slice(-15).join("\n");
          await removeBuildDir(o.buildDir);
          throwIfInterrupted(signal, "debootstrap");
          throw new ImageBuildError(
            `debootstrap failed (exit ${result.exitCode}):\n${tail}`,
            `Check that ${o.mirror} is reachable and has ${o.suite}; pass another with --mirror.`,
            { exitCode: result.exitCode },
          );
        }
        await writeFile(join(o.buildDir, DONE_MARKER), "");
      },
    },
    {
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
      commands: [
        o.cloudInit
          ? `truncate ${rootfs}/etc/machine-id; write ${rootfs}${CLOUD_INIT_DATASOURCE_FILE}; mask ${CLOUD_INIT_MASKED_UNITS.join(" ")} (ln -s /dev/null ${rootfs}/etc/systemd/system/<unit>)`
          : `write ${rootfs}/sbin/init (0755), mkdir ${rootfs}/etc/labgate/boot.d`,
        `rm -rf ${rootfs}/var/cache/apt/archives/*.deb ${rootfs}/var/lib/apt/lists/*`,
        `write ${meta}/metadata.yaml, ${meta}/templates/{hostname,hosts}.tpl`,
      ],
      async check() {
        if (await cached()) return { done: true, detail: `cached in ${o.entryDir}` };
        return (await exists(join(o.buildDir, CUSTOMIZED_MARKER))) ? { done: true } : { done: false };
      },
      async apply() {
        if (o.cloudInit) await prepareCloudInitRoot(rootfs);
        else await writeFile(join(rootfs, "sbin/init"), INIT_SCRIPT, { mode: 0o755 });
        await mkdir(join(rootfs, "etc/labgate/boot.d"), { recursive: true });
        await writeFile(join(rootfs, "etc/hostname"), "labgate\n");
        await clearDir(join(rootfs, "var/cache/apt/archives"), (n) => n.endsWith(".deb"));
        await clearDir(join(rootfs, "var/lib/apt/lists"), (n) => n !== "partial" && n !== "lock");
        await mkdir(join(meta, "templates"), { recursive: true });
        await writeFile(join(meta, "metadata.yaml"), renderImageMetadata(o, new Date()));
        await writeFile(join(meta, "templates/hostname.tpl"), HOSTNAME_TEMPLATE);
        await writeFile(join(meta, "templates/hosts.tpl"), HOSTS_TEMPLATE);
        await writeFile(join(o.buildDir, CUSTOMIZED_MARKER), "");
      },
    },
    {
      id: "pack",
      title: `Pack the image into ${o.entryDir}`,
      why:
        "LXD imports an image as two tarballs: metadata (metadata.yaml + templates) and the root file system. They are " +
        "written to the cache first and moved into place only when complete, so later builds (and CI runs) reuse them.",
      commands: [
        `tar --numeric-owner --one-file-system -I 'gzip -1' -C ${meta} -cf ${CACHE_FILES.metadata} .`,
        `tar --numeric-owner --one-file-system -I 'gzip -1' -C ${rootfs} -cf ${CACHE_FILES.rootfs} .`,
      ],
      async check() {
        const info = await cached();
        return info
          ? { done: true, detail: `${o.entryDir} (fingerprint ${info.fingerprint.slice(0, 12)})` }
          : { done: false };
      },
      async apply(signal, log) {
        const started = Date.now();
        const staging = `${o.entryDir}.tmp`;
        await rm(staging, { recursive: true, force: true });
        await mkdir(staging, { recursive: true, mode: 0o755 });
        for (const [dir, file] of [
          [meta, CACHE_FILES.metadata],
          [rootfs, CACHE_FILES.rootfs],
        ] as const) {
          log(`packing ${file}...`);
          const result = await execa(
            "tar",
            // --one-file-system: a mount left inside the root never ends up in the image.
            [
              "--numeric-owner",
              "--one-file-system",
              "-I",
              "gzip -1",
              "-C",
              dir,
              "-cf",
              join(staging, file),
              ".",
            ],
            {
              reject: false,
              all: true,
              cancelSignal: signal,
            },
          );
          if (result.exitCode !== 0) {
            await rm(staging, { recursive: true, force: true });
            throwIfInterrupted(signal, "pack");
            throw new ImageBuildError(
              `tar failed (exit ${result.exitCode}): ${(result.all ?? "").slice(-800)}`,
              "Check free disk space in the cache dir.",
            );
          }
        }
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
        await rm(o.entryDir, { recursive: true, force: true });
        await rename(staging, o.entryDir);
        // The unpacked root is 4x the tarball: keep only the cache entry.
        await removeBuildDir(o.buildDir);
      },
    },
  ];
  if (o.noImport) return steps;

  const fingerprint = async () => (await readCachedImage(o))?.fingerprint;
  steps.push(
    {
      id: "import",
      title: "Import the image into LXD",
      why:
        "The two tarballs are uploaded to LXD's image store over its REST API (POST /1.0/images, multipart). LXD " +
        "identifies an image by the SHA-256 of its tarballs, so an image already imported is found and not uploaded twice.",
      commands: [
        `POST /1.0/images  (multipart: metadata=${CACHE_FILES.metadata}, rootfs=${CACHE_FILES.rootfs}; X-LXD-properties: ${new URLSearchParams(imageProperties(o)).toString()})`,
        "GET /1.0/operations/<id>/wait",
      ],
      diagnostics: ["lxc image list", lxdLogCommand()],
      async check() {
        const fp = await fingerprint();
        if (!fp) return { done: false, detail: "not built yet" };
        const image = await clientFor().getImage(fp);
        return image ? { done: true, detail: `LXD has ${fp.slice(0, 12)}` } : { done: false };
      },
      async apply(signal, log) {
        const fp = await fingerprint();
        if (!fp)
          throw new ImageBuildError(
            "The image tarballs are not in the cache.",
            "Run `labgate image build` without --step.",
          );
        log(`uploading ${o.entryDir} to LXD...`);
        const imported = await clientFor().importImage({
          metadataPath: join(o.entryDir, CACHE_FILES.metadata),
          rootfsPath: join(o.entryDir, CACHE_FILES.rootfs),
          properties: imageProperties(o),
          signal,
        });
        if (imported !== fp) {
          throw new ImageBuildError(
            `LXD computed fingerprint ${imported} but the cache says ${fp}.`,
            `The cache entry may be damaged: labgate image build --rebuild`,
          );
        }
      },
    },
    {
      id: "alias",
      title: `Point the alias ${o.alias} at the image`,
      why:
        `Labs name their image by alias ("image": "${o.alias}"); the alias is created, or moved from an older build ` +
        "to this one. An older labgate build left without any alias is then deleted from LXD's image store " +
        "(containers made from it keep running: LXD copies an image into each container).",
      commands: [
        `POST /1.0/images/aliases {"name":"${o.alias}","target":"<fingerprint>"}   (or PUT when it exists)`,
        "DELETE /1.0/images/<older fingerprint>   # only an older labgate build with no alias left",
      ],
      async check() {
        const fp = await fingerprint();
        const alias = await clientFor().getImageAlias(o.alias);
        if (!alias) return { done: false, detail: `no alias ${o.alias}` };
        return alias.target === fp
          ? { done: true, detail: `${o.alias} → ${alias.target.slice(0, 12)}` }
          : { done: false, detail: `${o.alias} → ${alias.target.slice(0, 12)} (older build)` };
      },
      async apply(signal, log) {
        const fp = await fingerprint();
        if (!fp)
          throw new ImageBuildError(
            "The image is not in the cache.",
            "Run `labgate image build` without --step.",
          );
        const client = clientFor();
        const previous = (await client.getImageAlias(o.alias))?.target;
        await client.setImageAlias(o.alias, fp, `labgate Debian ${o.suite}`);
        if (previous && previous !== fp) log(await removeReplacedBuild(client, previous, signal));
      },
    },
  );
  return steps;
}

/** Where the cloud-init variant pins cloud-init to LXD's data source. */
export const CLOUD_INIT_DATASOURCE_FILE = "/etc/cloud/cloud.cfg.d/90-labgate-lxd.cfg";

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

async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    missing.push("not running as root (debootstrap needs it)");
  for (const tool of ["debootstrap", "tar", "gzip"]) {
    const found = await execa("sh", ["-c", 'command -v "$1"', "sh", tool], { reject: false });
    if (found.exitCode !== 0)
      missing.push(
        `${tool} is not installed${tool === "debootstrap" ? " (apt-get install -y debootstrap)" : ""}`,
      );
  }
  return missing;
}

async function clearDir(dir: string, remove: (name: string) => boolean): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (remove(name)) await rm(join(dir, name), { recursive: true, force: true });
  }
}

/** LXD's fingerprint of a split image: SHA-256 over the metadata tarball followed by the rootfs tarball. */
export async function splitImageFingerprint(metadataPath: string, rootfsPath: string): Promise<string> {
  const hash = createHash("sha256");
  for (const path of [metadataPath, rootfsPath]) {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}
