import {
  LXD_CLOUD_INIT_KEYS,
  LXD_LEGACY_CLOUD_INIT_KEYS,
  type LxdClient,
  type LxdCloudInitKeys,
} from "@labgate/core";
import { resolveImageRef } from "./image-source.js";
import type { LxdLabOptions } from "./lxd-lab-options.js";

export type ResolvedPayload = "cloud-init" | "push";

/** The config keys cloud-init reads (core's lxd-node.ts): `cloud-init.*` since LXD's "cloud_init" API extension, `user.*` before. */
export type CloudInitKeys = LxdCloudInitKeys;

/**
 * "auto": cloud-init when the image has it (Ubuntu images, `variant: cloud`, or the property
 * `labgate.cloud_init=true`), otherwise files are pushed and commands run through the API.
 */
export async function resolvePayloadMode(client: LxdClient, o: LxdLabOptions): Promise<ResolvedPayload> {
  if (o.payload !== "auto") return o.payload;
  const ref = resolveImageRef(o.image);
  if (ref.where === "remote")
    return ref.server?.includes("cloud-images.ubuntu.com") || /cloud/.test(ref.alias) ? "cloud-init" : "push";
  const image = /^[0-9a-f]{12,64}$/.test(o.image)
    ? await client.getImage(o.image)
    : await client.resolveImageAlias(o.image);
  const props = image?.properties ?? {};
  if (props["labgate.cloud_init"] === "true") return "cloud-init";
  if (props["labgate.cloud_init"] === "false") return "push";
  if (props.variant === "cloud" || props.os?.toLowerCase() === "ubuntu") return "cloud-init";
  return "push";
}

/** The payload mode the plan can tell from the spec alone (no I/O): "auto" when only the image can say. */
export function plannedPayloadMode(o: LxdLabOptions): "cloud-init" | "push" | "auto" {
  if (o.payload !== "auto") return o.payload;
  const ref = resolveImageRef(o.image);
  // Remote images decide as resolvePayloadMode does; a local one by labgate's naming (…-cloud) when
  // its properties cannot be read, which planning does not do.
  if (ref.where === "remote")
    return ref.server?.includes("cloud-images.ubuntu.com") || /cloud/.test(ref.alias) ? "cloud-init" : "push";
  return /cloud/.test(ref.alias) ? "cloud-init" : "auto";
}

export async function cloudInitKeys(client: LxdClient): Promise<CloudInitKeys> {
  return (await client.hasExtension("cloud_init")) ? LXD_CLOUD_INIT_KEYS : LXD_LEGACY_CLOUD_INIT_KEYS;
}
