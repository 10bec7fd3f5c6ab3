import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";

/**
 * Starts `argv` in its own session (so it outlives the CLI and can be signalled as a group), stdout and
 * stderr appended to `logFile` (created 0600). Resolves with the pid as soon as the OS gives it, so the
 * caller can record it before waiting on anything.
 */
export function spawnDetached(
  argv: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const [command, ...args] = argv as [string, ...string[]];
  const fd = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(command, args, { detached: true, stdio: ["ignore", fd, fd], env });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("spawn", () => {
        child.unref();
        if (child.pid === undefined) reject(new Error(`${command} started without a pid`));
        else resolve(child.pid);
      });
    });
  } finally {
    closeSync(fd);
  }
}
