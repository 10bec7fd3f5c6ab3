import { createServer } from "node:net";

// The gate is shared with core's and the CLI's LXD suites.
export {
  failUnlessUsable,
  type LxdE2eState,
  lxdE2eEnabled,
  lxdE2eRequired,
  lxdE2eState,
} from "../../../../../core/src/platforms/lxd/test-support/lxd-e2e-gate.js";

/** A loopback port free right now, for the proxy device to listen on. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
