/**
 * The rules OpenNebula's LXD image downloader applies to an image PATH
 * (src/datastore_mad/remotes/lxd_downloader.sh, 6.8.3 … 7.0): `lxd://<rootfs URL>?size=N&filesystem=…&format=…`.
 * A directory URL (…/default/) fails its extension check (`exit 1` when the last dot-part is 4+ characters) and
 * carries no size for `qemu-img create`, so the image ends in ERROR. Pure: used by the lab to refuse a bad
 * `imagePath` before calling OpenNebula, and by the simulator to fail the image the way the datastore would.
 */
export interface LxdImageUrl {
  rootfsUrl: string;
  sizeMb: number;
  filesystem: string;
  format: "raw" | "qcow2";
  distro: string;
  version: string;
}

/** Distributions whose context package the downloader knows how to install (its `case "$rootfs_url"`). */
const CONTEXT_DISTROS = [
  "opensuse",
  "alpine",
  "alt",
  "ubuntu",
  "debian",
  "devuan",
  "centos",
  "oracle",
  "almalinux",
  "rockylinux",
  "fedora",
  "amazonlinux",
];

export type LxdImageUrlCheck = { ok: true; url: LxdImageUrl } | { ok: false; problem: string };

export function checkLxdImageUrl(path: string): LxdImageUrlCheck {
  // `grep -oP "^lxd://\K.*"`: anything else is not an LXD marketplace URL at all.
  if (!path.startsWith("lxd://")) return { ok: false, problem: "it does not start with lxd://" };
  const url = path.slice("lxd://".length);
  const q = url.indexOf("?");
  const rootfsUrl = q < 0 ? url : url.slice(0, q);
  if (!/^https?:\/\/[^/]+\//.test(rootfsUrl))
    return { ok: false, problem: `${rootfsUrl} is not an http(s) URL` };
  // `second_extension … if [ ${#extension} -ge 4 ]; then exit 1`: the URL must name an archive file.
  const parts = rootfsUrl.split(".");
  const last = parts[parts.length - 1] ?? "";
  const second = parts[parts.length - 2] ?? "";
  if (second.endsWith("tar") === false && last.length >= 4) {
    return {
      ok: false,
      problem: `${rootfsUrl} names no archive (the downloader needs …/<build>/rootfs.tar.xz; a directory URL fails its extension check)`,
    };
  }
  if (q < 0)
    return {
      ok: false,
      problem: "it has no ?size=N (the downloader creates the disk with qemu-img create with the size in MB)",
    };
  const args = new URLSearchParams(url.slice(q + 1));
  const size = Number(args.get("size") ?? "");
  if (!Number.isInteger(size) || size <= 0) {
    return { ok: false, problem: `size=${args.get("size") ?? "(missing)"} is not a positive number of MB` };
  }
  const format = args.get("format") ?? "raw";
  if (format !== "raw" && format !== "qcow2")
    return { ok: false, problem: `format=${format} is not raw or qcow2` };
  // `distro=$(cut -d/ -f5)`, `version=$(cut -d/ -f6)`: https://host/images/<distro>/<version>/…
  const fields = rootfsUrl.split("/");
  const distro = fields[4] ?? "";
  const version = fields[5] ?? "";
  if (!CONTEXT_DISTROS.some((d) => rootfsUrl.includes(d))) {
    return {
      ok: false,
      problem: `${distro || "this distribution"} has no OpenNebula context package (the downloader writes "${distro}-${version} is not supported by OpenNebula context"), so the VMs would never get their address or payload`,
    };
  }
  return {
    ok: true,
    url: {
      rootfsUrl,
      sizeMb: size,
      filesystem: args.get("filesystem") || "ext4",
      format,
      distro,
      version,
    },
  };
}
