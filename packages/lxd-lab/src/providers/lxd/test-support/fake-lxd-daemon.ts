import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LxdClient } from "@labgate/core";

/**
 * A stand-in for LXD daemons that cannot run here (other versions, other firewall drivers): GET
 * requests answered from `routes` (path → metadata) in LXD's sync envelope, anything else 404 the
 * way LXD answers it. For the provider's reading of LXD; the real daemon is in the e2e suites.
 */
export async function fakeLxdDaemon(
  routes: Record<string, unknown>,
): Promise<{ client: LxdClient; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "labgate-fake-lxd-"));
  const socketPath = join(dir, "unix.socket");
  const server = createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    const found = req.method === "GET" && req.url !== undefined && req.url in routes;
    if (found) {
      res.end(
        JSON.stringify({
          type: "sync",
          status: "Success",
          status_code: 200,
          metadata: routes[req.url ?? ""],
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ type: "error", error: "not found", error_code: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    client: new LxdClient({ socketPath }),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
