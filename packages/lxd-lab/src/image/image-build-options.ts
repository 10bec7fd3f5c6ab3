import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "@labgate/core";
import { DEFAULT_LXD_IMAGE } from "../providers/lxd/lxd-lab-options.js";
import { HOSTNAME_TEMPLATE, HOSTS_TEMPLATE, INIT_SCRIPT } from "./init-script.js";

/** Packages of the image: the app's python3, `ip` for static addresses, HAProxy, pkill/ps. */
export const DEFAULT_IMAGE_PACKAGES = ["python3", "iproute2", "haproxy", "procps"] as const;
/**
 * What `--cloud-init` adds: cloud-init itself, systemd as init (cloud-init's stages are systemd
 * units), ifupdown (the renderer cloud-init picks on Debian for the network-config it gets),
 * net-tools (that renderer adds the default route with `route`) and resolvconf (it turns the
 * rendered `dns-nameservers` into /etc/resolv.conf). python3-cffi-backend is named because
 * debootstrap does not resolve the virtual package python3-cryptography depends on.
 */
export const CLOUD_INIT_PACKAGES = [
  "cloud-init",
  "systemd-sysv",
  "ifupdown",
  "net-tools",
  "resolvconf",
  "python3-cffi-backend",
] as const;
/** cloud-init config of the variant: LXD's data source only; no locale (minbase has no `locales`). */
export const CLOUD_INIT_IMAGE_CONFIG =
  "# Written by labgate image build: read the instance's cloud-init.* keys from LXD (/dev/lxd/sock).\n" +
  "datasource_list: [LXD, NoCloud, None]\n" +
  "# minbase has no update-locale: the locale module would fail and mark cloud-init's run as an error.\n" +
  "locale: false\n";
/**
 * systemd units the cloud-init variant masks: binfmt_misc cannot be mounted in a container (the
 * unit would fail and leave the system "degraded"), and apt's daily timers would try to reach the
 * mirror from inside a lab that has no route out by design.
 */
export const CLOUD_INIT_MASKED_UNITS = [
  "systemd-binfmt.service",
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
] as const;
/** Default alias of the `--cloud-init` variant. */
export const DEFAULT_LXD_CLOUD_IMAGE = `${DEFAULT_LXD_IMAGE}-cloud`;
/** Bump when the image layout changes so old cache entries are not reused. */
const IMAGE_FORMAT = 1;

export interface ImageBuildInput {
  alias?: string;
  suite?: string;
  mirror?: string;
  /** Extra packages on top of the defaults. */
  packages?: string[];
  cacheDir?: string;
  socketPath?: string;
  /** Build even when the cache has this image. */
  rebuild?: boolean;
  /** Only build the tarballs (no LXD needed). */
  noImport?: boolean;
  /** The cloud-init variant: systemd + cloud-init instead of labgate's small init. */
  cloudInit?: boolean;
}

export interface ImageBuildOptions {
  alias: string;
  suite: string;
  mirror: string;
  packages: string[];
  /** Debian architecture (amd64) and LXD's name for it (x86_64). */
  debArch: string;
  lxdArch: string;
  cacheDir: string;
  /** Content-addressed entry: suite, mirror, packages, init script and format decide it. */
  key: string;
  entryDir: string;
  buildDir: string;
  socketPath?: string;
  rebuild: boolean;
  noImport: boolean;
  /** systemd + cloud-init (payload and address from cloud-init) instead of labgate's init. */
  cloudInit: boolean;
}

export function defaultImageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LABGATE_IMAGE_CACHE) return env.LABGATE_IMAGE_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "labgate", "images");
}

const ARCHES: Record<string, { deb: string; lxd: string }> = {
  x64: { deb: "amd64", lxd: "x86_64" },
  arm64: { deb: "arm64", lxd: "aarch64" },
};

/** Resolves flags into a complete, pure build description (the mirror is looked up by the caller). */
export function imageBuildOptions(
  input: ImageBuildInput,
  mirror: string,
  nodeArch = process.arch,
): ImageBuildOptions {
  const cloudInit = input.cloudInit ?? false;
  const alias = input.alias ?? (cloudInit ? DEFAULT_LXD_CLOUD_IMAGE : DEFAULT_LXD_IMAGE);
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/.test(alias)) {
    throw new InvalidInputError("IMAGE_ALIAS_INVALID", `"${alias}" is not a usable image alias.`, {
      hint: "Use letters, digits, '.', '_', '-' and '/', e.g. labgate/debian-bookworm.",
    });
  }
  const suite = input.suite ?? "bookworm";
  if (!/^[a-z]+$/.test(suite))
    throw new InvalidInputError("IMAGE_SUITE_INVALID", `"${suite}" is not a Debian suite name.`, {
      hint: "e.g. bookworm",
    });
  const extra = input.packages ?? [];
  for (const p of extra) {
    if (!/^[a-z0-9][a-z0-9.+-]+$/.test(p)) {
      throw new InvalidInputError("IMAGE_PACKAGE_INVALID", `"${p}" is not a Debian package name.`, {
        hint: "e.g. --package curl",
      });
    }
  }
  if (!/^(https?|file):\/\//.test(mirror)) {
    throw new InvalidInputError("IMAGE_MIRROR_INVALID", `"${mirror}" is not a mirror URL.`, {
      hint: "e.g. --mirror http://deb.debian.org/debian",
    });
  }
  const arch = ARCHES[nodeArch];
  if (!arch) {
    throw new InvalidInputError(
      "IMAGE_ARCH_UNSUPPORTED",
      `Cannot build for this machine's architecture (${nodeArch}).`,
      {
        hint: "labgate image build supports x86_64 (amd64) and aarch64 (arm64).",
      },
    );
  }
  const packages = [
    ...new Set([...DEFAULT_IMAGE_PACKAGES, ...(cloudInit ? CLOUD_INIT_PACKAGES : []), ...extra]),
  ].sort();
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        IMAGE_FORMAT,
        suite,
        mirror,
        packages,
        arch: arch.deb,
        // Only the variant adds keys, so the plain image's cache entries stay valid.
        ...(cloudInit ? { cloudInit, CLOUD_INIT_IMAGE_CONFIG, CLOUD_INIT_MASKED_UNITS } : {}),
        INIT_SCRIPT,
        HOSTNAME_TEMPLATE,
        HOSTS_TEMPLATE,
      }),
    )
    .digest("hex")
    .slice(0, 12);
  const cacheDir = input.cacheDir ?? defaultImageCacheDir();
  const name = `debian-${suite}-${arch.deb}${cloudInit ? "-cloud" : ""}-${key}`;
  return {
    alias,
    suite,
    mirror,
    packages,
    debArch: arch.deb,
    lxdArch: arch.lxd,
    cacheDir,
    key,
    entryDir: join(cacheDir, name),
    buildDir: join(cacheDir, `${name}.build`),
    ...(input.socketPath ? { socketPath: input.socketPath } : {}),
    rebuild: input.rebuild ?? false,
    noImport: input.noImport ?? false,
    cloudInit,
  };
}

export const CACHE_FILES = { metadata: "meta.tar.gz", rootfs: "rootfs.tar.gz", info: "image.json" } as const;

/** metadata.yaml of the image (LXD reads architecture, creation_date, properties and templates). */
export function renderImageMetadata(o: ImageBuildOptions, createdAt: Date): string {
  const description = `${imageDescription(o)} (minbase: ${o.packages.join(", ")})`;
  return [
    `architecture: ${o.lxdArch}`,
    `creation_date: ${Math.floor(createdAt.getTime() / 1000)}`,
    "properties:",
    `  architecture: ${o.lxdArch}`,
    `  description: ${JSON.stringify(description)}`,
    "  os: debian",
    `  release: ${o.suite}`,
    `  variant: ${imageVariant(o)}`,
    `  labgate.cloud_init: "${o.cloudInit}"`,
    `  labgate.key: "${o.key}"`,
    "templates:",
    "  /etc/hostname:",
    "    when: [create, copy]",
    "    template: hostname.tpl",
    "  /etc/hosts:",
    "    when: [create, copy]",
    "    template: hosts.tpl",
    "",
  ].join("\n");
}

export function imageProperties(o: ImageBuildOptions): Record<string, string> {
  return {
    os: "debian",
    release: o.suite,
    architecture: o.lxdArch,
    variant: imageVariant(o),
    description: imageDescription(o),
    // The LXD provider reads this to choose cloud-init or pushed files (payload "auto").
    "labgate.cloud_init": String(o.cloudInit),
    "labgate.key": o.key,
  };
}

function imageVariant(o: ImageBuildOptions): string {
  return o.cloudInit ? "labgate-cloud" : "labgate";
}

function imageDescription(o: ImageBuildOptions): string {
  return `labgate Debian ${o.suite} ${o.debArch}${o.cloudInit ? " with cloud-init" : ""}`;
}
