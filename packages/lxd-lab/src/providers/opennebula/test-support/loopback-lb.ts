import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { renderHaproxyConfig } from "../../../haproxy/render-config.js";

/**
 * Simulated OpenNebula VMs cannot serve HTTP. For round-robin verification the test stands up
 * what the LB VM would run, on loopback: two app servers answering with X-Served-By, and the real
 * HAProxy with a config from the same renderer the LB's user data uses.
 */
export interface LoopbackLb {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startLoopbackLb(dir: string, names: string[]): Promise<LoopbackLb> {
  const servers: Server[] = [];
  const backends = [];
  for (const name of names) {
    const server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json", "x-served-by": name });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
    backends.push({ name, address: "127.0.0.1", port: (server.address() as AddressInfo).port });
  }
  const port = await freePort();
  const statsPort = await freePort();
  const cfg = join(dir, "haproxy.cfg");
  await writeFile(
    cfg,
    renderHaproxyConfig({
      labName: "one-sim",
      bindAddress: "127.0.0.1",
      port,
      statsPort,
      backends,
      prometheus: false,
    }),
  );
  const proc: ResultPromise = execa("haproxy", ["-db", "-f", cfg], { reject: false });
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(`${url}health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || proc.exitCode !== null)
      throw new Error(`loopback HAProxy did not start: ${(await proc).stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async stop() {
      proc.kill("SIGTERM");
      await proc;
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}

/** startLoopbackLb in a temp dir of its own (name starting with `prefix`), which stop() removes. */
export async function startTempLoopbackLb(prefix: string, names: string[]): Promise<LoopbackLb> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const lb = await startLoopbackLb(dir, names).catch(async (e: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    url: lb.url,
    async stop() {
      await lb.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
