import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { readJsonFile } from "@labgate/core";
import { CACHE_FILES, type ImageBuildOptions } from "./image-build-options.js";

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

/** The complete entry (image.json and both tarballs), or undefined. */
export async function readCachedImage(o: ImageBuildOptions): Promise<CachedImageInfo | undefined> {
  const info = (await readJsonFile(join(o.entryDir, CACHE_FILES.info))) as CachedImageInfo | undefined;
  // A damaged or foreign image.json is no cache hit (the entry is rebuilt), never a fingerprint to trust.
  if (typeof info?.fingerprint !== "string" || !/^[0-9a-f]{64}$/.test(info.fingerprint)) return undefined;
  const present = await Promise.all(
    [CACHE_FILES.metadata, CACHE_FILES.rootfs].map((f) => exists(join(o.entryDir, f))),
  );
  return present.every(Boolean) ? info : undefined;
}

export const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** LXD's fingerprint of a split image: SHA-256 over the metadata tarball followed by the rootfs tarball. */
export async function splitImageFingerprint(metadataPath: string, rootfsPath: string): Promise<string> {
  const hash = createHash("sha256");
  for (const path of [metadataPath, rootfsPath]) {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}
