import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";

/**
 * Waits until something accepts TCP connections on 127.0.0.1:`port`, for a server a test spawned. Fails at once
 * when `child` exits first, and after `timeoutMs`; `log` (the child's output so far) ends either message.
 */
export async function waitForPort(
  port: number,
  child: ChildProcess,
  log: () => string = () => "",
  timeoutMs = 10_000,
): Promise<void> {
  const name = child.spawnfile;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${log()}`);
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (listening) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms: ${log()}`);
}
