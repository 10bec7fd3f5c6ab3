import { readFile, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { execa } from "execa";
import { ImageBuildError } from "../errors.js";

/**
 * Mount points strictly inside `dir`, deepest first, from mountinfo text (field 5, with the
 * kernel's octal escapes such as \040 for a space). Pure.
 */
export function mountsUnder(dir: string, mountinfo: string): string[] {
  const root = resolve(dir);
  return mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((field): field is string => Boolean(field))
    .map((field) =>
      field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))),
    )
    .filter((point) => point.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes a debootstrap build directory safely. debootstrap mounts proc, sysfs and bind mounts of
 * host devices (/dev/pts, /dev/shm in containers) into its target and only unmounts them when it
 * exits normally; killed (Ctrl-C, a crash) it leaves them, and a plain recursive delete would then
 * reach into the host's /dev/shm or /sys. Everything mounted inside is unmounted first; if
 * something stays mounted, nothing is deleted and the error says what to unmount.
 */
export async function removeBuildDir(dir: string, mountinfoPath = "/proc/self/mountinfo"): Promise<void> {
  const read = () => readFile(mountinfoPath, "utf8").catch(() => "");
  for (const point of mountsUnder(dir, await read())) {
    const plain = await execa("umount", [point], { reject: false });
    if (plain.exitCode !== 0) await execa("umount", ["-l", point], { reject: false });
  }
  const left = mountsUnder(dir, await read());
  if (left.length) {
    throw new ImageBuildError(
      `Cannot remove the build directory ${dir}: ${left.join(", ")} ${left.length === 1 ? "is" : "are"} still mounted (left by an interrupted debootstrap).`,
      `Unmount by hand, then build again: ${left.map((p) => `umount -l '${p}'`).join(" && ")}`,
      { mounts: left },
    );
  }
  await rm(dir, { recursive: true, force: true });
}
