import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findDebianMirror, mirrorFromDeb822, mirrorFromSourcesList } from "./debian-mirror.js";
import {
  CLOUD_INIT_IMAGE_CONFIG,
  CLOUD_INIT_PACKAGES,
  imageBuildOptions,
  imageProperties,
  renderImageMetadata,
} from "./image-build-options.js";
import { CLOUD_INIT_DATASOURCE_FILE, imageBuildSteps } from "./image-build-steps.js";
import { imageContext } from "./image-context.js";
import { INIT_SCRIPT } from "./init-script.js";

describe("Debian mirror discovery", () => {
  it("reads one-line sources.list entries for the suite, skipping options and other suites", () => {
    const text = [
      "# deb http://commented.example/debian bookworm main",
      "deb [signed-by=/x.gpg] http://mirror.example/debian bookworm main",
      "deb http://security.example/debian-security bookworm-security main",
    ].join("\n");
    expect(mirrorFromSourcesList(text, "bookworm")).toBe("http://mirror.example/debian");
    expect(mirrorFromSourcesList(text, "trixie")).toBeUndefined();
  });

  it("reads deb822 .sources stanzas (Types/URIs/Suites), skipping disabled ones", () => {
    const text = [
      "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nEnabled: no",
      "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main",
      "Types: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security",
    ].join("\n\n");
    expect(mirrorFromDeb822(text, "bookworm")).toBe("http://deb.example/debian");
  });

  it("looks in sources.list first, then sources.list.d", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-apt-"));
    try {
      execFileSync("mkdir", ["-p", join(dir, "sources.list.d")]);
      await writeFile(
        join(dir, "sources.list.d", "debian.sources"),
        "Types: deb\nURIs: http://d822.example/debian\nSuites: bookworm\n",
      );
      expect(await findDebianMirror("bookworm", dir)).toBe("http://d822.example/debian");
      await writeFile(join(dir, "sources.list"), "deb http://list.example/debian bookworm main\n");
      expect(await findDebianMirror("bookworm", dir)).toBe("http://list.example/debian");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("image build options", () => {
  const mirror = "http://deb.debian.org/debian";
  it("the cache key depends on what goes into the image, not on where the cache is", () => {
    const a = imageBuildOptions({ cacheDir: "/c1" }, mirror, "x64");
    const b = imageBuildOptions({ cacheDir: "/c2" }, mirror, "x64");
    const c = imageBuildOptions({ cacheDir: "/c1", packages: ["curl"] }, mirror, "x64");
    expect(a.key).toBe(b.key);
    expect(c.key).not.toBe(a.key);
    expect(a.packages).toEqual(["haproxy", "iproute2", "procps", "python3"]);
    expect(a.entryDir).toBe(`/c1/debian-bookworm-amd64-${a.key}`);
    expect(a.lxdArch).toBe("x86_64");
    expect(a.alias).toBe("labgate/debian-bookworm");
  });

  it("rejects bad aliases, package names, mirrors and architectures", () => {
    expect(() => imageBuildOptions({ alias: "bad alias" }, mirror, "x64")).toThrow(/alias/);
    expect(() => imageBuildOptions({ packages: ["rm -rf /"] }, mirror, "x64")).toThrow(/package/);
    expect(() => imageBuildOptions({}, "deb.debian.org", "x64")).toThrow(/mirror/);
    expect(() => imageBuildOptions({}, mirror, "mips")).toThrow(/architecture/);
  });

  it("metadata.yaml names the architecture, marks the image as cloud-init-less and templates the hostname", () => {
    const yaml = renderImageMetadata(imageBuildOptions({}, mirror, "x64"), new Date(1_700_000_000_000));
    expect(yaml).toContain("architecture: x86_64\ncreation_date: 1700000000\n");
    expect(yaml).toContain('labgate.cloud_init: "false"');
    expect(yaml).toContain("  /etc/hostname:\n    when: [create, copy]\n    template: hostname.tpl");
  });

  it("the init script is valid POSIX sh and runs the boot hooks", () => {
    execFileSync("sh", ["-n", "-c", INIT_SCRIPT]);
    expect(INIT_SCRIPT).toContain("/etc/labgate/boot.d/*.sh");
    expect(INIT_SCRIPT).toContain("trap 'stopping=1' PWR TERM INT");
  });
});

describe("the cloud-init variant", () => {
  const mirror = "http://deb.debian.org/debian";
  it("adds systemd, cloud-init and its network helpers, under its own alias, cache entry and key", () => {
    const plain = imageBuildOptions({ cacheDir: "/c" }, mirror, "x64");
    const cloud = imageBuildOptions({ cacheDir: "/c", cloudInit: true }, mirror, "x64");
    expect(cloud.alias).toBe("labgate/debian-bookworm-cloud");
    for (const p of CLOUD_INIT_PACKAGES) expect(cloud.packages).toContain(p);
    expect(plain.packages.some((p) => (CLOUD_INIT_PACKAGES as readonly string[]).includes(p))).toBe(false);
    expect(cloud.key).not.toBe(plain.key);
    expect(cloud.entryDir).toBe(`/c/debian-bookworm-amd64-cloud-${cloud.key}`);
    // Saying "no cloud-init" out loud is the plain image, cache entry included.
    expect(imageBuildOptions({ cacheDir: "/c", cloudInit: false }, mirror, "x64").key).toBe(plain.key);
  });

  it("tells the LXD provider it has cloud-init (metadata.yaml and the import properties)", () => {
    const cloud = imageBuildOptions({ cloudInit: true }, mirror, "x64");
    expect(renderImageMetadata(cloud, new Date(0))).toContain('labgate.cloud_init: "true"');
    expect(imageProperties(cloud)["labgate.cloud_init"]).toBe("true");
    expect(imageProperties(imageBuildOptions({}, mirror, "x64"))["labgate.cloud_init"]).toBe("false");
  });

  it("customize keeps systemd as init and prepares machine id, cloud-init data source and binfmt", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "labgate-img-cust-"));
    try {
      const o = imageBuildOptions({ cacheDir, cloudInit: true, noImport: true }, mirror, "x64");
      const rootfs = join(o.buildDir, "rootfs");
      // What debootstrap leaves that customize touches: a machine id, systemd's unit dir, apt's lists.
      for (const d of ["etc/systemd/system", "sbin", "var/lib/dbus", "var/lib/apt/lists"])
        await mkdir(join(rootfs, d), { recursive: true });
      await writeFile(join(rootfs, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
      await writeFile(join(rootfs, "var/lib/dbus/machine-id"), "0123456789abcdef0123456789abcdef\n");
      const ctx = imageContext(
        o,
        () => {
          throw new Error("customize must not talk to LXD");
        },
        () => {},
        new AbortController().signal,
      );
      const customize = imageBuildSteps(o).find((s) => s.description.id === "customize");
      await customize?.actions.apply(ctx, { done: false, facts: undefined });
      expect(await readFile(join(rootfs, "etc/machine-id"), "utf8")).toBe("");
      await expect(lstat(join(rootfs, "var/lib/dbus/machine-id"))).rejects.toThrow();
      expect(await readFile(join(rootfs, CLOUD_INIT_DATASOURCE_FILE), "utf8")).toBe(CLOUD_INIT_IMAGE_CONFIG);
      for (const unit of ["systemd-binfmt.service", "apt-daily.timer", "apt-daily-upgrade.timer"])
        expect(await readlink(join(rootfs, "etc/systemd/system", unit))).toBe("/dev/null");
      await expect(lstat(join(rootfs, "sbin/init"))).rejects.toThrow();
      expect(await readFile(join(o.buildDir, "meta/metadata.yaml"), "utf8")).toContain(
        'labgate.cloud_init: "true"',
      );
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
