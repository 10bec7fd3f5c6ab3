import { statSync } from "node:fs";
import { join } from "node:path";

/** Where LXD puts its API socket: the snap first, then the Debian/Ubuntu package. */
export const DEFAULT_LXD_SOCKETS = [
  "/var/snap/lxd/common/lxd/unix.socket",
  "/var/lib/lxd/unix.socket",
] as const;

/**
 * The sockets to try, in order. An explicit path, `LXD_SOCKET` or `$LXD_DIR/unix.socket` (the lxc
 * client's convention) is used alone: pointing labgate at a socket must never silently reach
 * another daemon. Otherwise the snap's socket, then the Debian/Ubuntu package's.
 */
export function lxdSocketCandidates(explicit?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (explicit) return [explicit];
  if (env.LXD_SOCKET) return [env.LXD_SOCKET];
  if (env.LXD_DIR) return [join(env.LXD_DIR, "unix.socket")];
  return [...DEFAULT_LXD_SOCKETS];
}

/** The first candidate that exists as a socket, or undefined when none does. */
export function findLxdSocket(candidates: readonly string[]): string | undefined {
  return candidates.find((path) => {
    try {
      return statSync(path).isSocket();
    } catch {
      return false;
    }
  });
}
