import { execFileSync, spawn, spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";

/** Whether this machine can run the pinned-busy-loop scenario: taskset (util-linux) and two CPUs. */
export function canPin(): boolean {
  return availableParallelism() >= 2 && spawnSync("taskset", ["-p", String(process.pid)]).status === 0;
}

/**
 * Runs `fn` with this process (every thread, so the load generator too) pinned to CPU 0 next to a
 * busy loop pinned there as well, and the target pinned to CPU 1: the generator gets about half a
 * core while nothing else changes. Afterwards the affinities are restored and the loop is killed.
 */
export async function withPinnedBusyLoop<T>(targetPid: number, fn: () => Promise<T>): Promise<T> {
  const mask = /:\s*([0-9a-f,]+)\s*$/i.exec(
    execFileSync("taskset", ["-p", String(process.pid)], { encoding: "utf8" }),
  )?.[1];
  if (!mask) throw new Error("cannot read this process's CPU affinity");
  execFileSync("taskset", ["-a", "-p", "-c", "1", String(targetPid)], { stdio: "ignore" });
  execFileSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
  const burner = spawn("taskset", ["-c", "0", process.execPath, "-e", "for (;;) {}"], { stdio: "ignore" });
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return await fn();
  } finally {
    burner.kill("SIGKILL");
    execFileSync("taskset", ["-a", "-p", mask, String(process.pid)], { stdio: "ignore" });
  }
}
