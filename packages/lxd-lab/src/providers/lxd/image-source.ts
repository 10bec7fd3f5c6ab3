import type { LxdInstanceSource } from "@labgate/core";

/** Image servers behind the usual `remote:` prefixes of the lxc client. */
const REMOTES: Record<string, { server: string; protocol: string }> = {
  ubuntu: { server: "https://cloud-images.ubuntu.com/releases", protocol: "simplestreams" },
  "ubuntu-daily": { server: "https://cloud-images.ubuntu.com/daily", protocol: "simplestreams" },
  images: { server: "https://images.linuxcontainers.org", protocol: "simplestreams" },
};

export interface ResolvedImage {
  /** Where LXD takes the image from when creating an instance. */
  source: LxdInstanceSource;
  /** "local" images must already be in LXD (alias or fingerprint); "remote" ones are pulled by LXD. */
  where: "local" | "remote";
  alias: string;
  server?: string;
}

/**
 * "labgate/debian-bookworm" or a fingerprint → a local image; "ubuntu:22.04" / "images:debian/12"
 * → pulled by LXD from that image server (needs internet; offline machines use `labgate image build`).
 */
export function resolveImageRef(ref: string): ResolvedImage {
  const colon = ref.indexOf(":");
  const remote = colon > 0 ? REMOTES[ref.slice(0, colon)] : undefined;
  if (remote) {
    const alias = ref.slice(colon + 1);
    return {
      source: { type: "image", mode: "pull", server: remote.server, protocol: remote.protocol, alias },
      where: "remote",
      alias,
      server: remote.server,
    };
  }
  if (/^[0-9a-f]{12,64}$/.test(ref))
    return { source: { type: "image", fingerprint: ref }, where: "local", alias: ref };
  return { source: { type: "image", alias: ref }, where: "local", alias: ref };
}
