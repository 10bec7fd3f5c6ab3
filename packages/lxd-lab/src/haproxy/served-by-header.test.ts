import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../test-support/free-ports.js";
import { headerValue, httpProbe } from "../verify/http-probe.js";
import { renderHaproxyConfig, type ServedByHeaderMode } from "./render-config.js";
import { fetchHaproxyServerStatus } from "./stats-csv.js";

/**
 * The rendered config run by the real HAProxy on loopback, in front of two real servers: one that
 * names itself in X-Served-By (like our app) and one that does not (like a third-party service).
 */
interface Backend {
  server: Server;
  port: number;
  checks: { method: string; url: string; headers: IncomingHttpHeaders }[];
}

async function backend(port: number, ownName: string | undefined): Promise<Backend> {
  const checks: Backend["checks"] = [];
  const server = createServer((req, res) => {
    if (req.url === "/health") checks.push({ method: req.method ?? "", url: req.url, headers: req.headers });
    res.writeHead(200, ownName ? { "x-served-by": ownName } : {});
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { server, port, checks };
}

let dir: string;
let named: Backend;
let anonymous: Backend;
let lbPort: number;
let statsPort: number;
let haproxy: ResultPromise | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "labgate-served-by-"));
  const [a, b, lb, stats] = await freePorts(4);
  named = await backend(a!, "own-name");
  anonymous = await backend(b!, undefined);
  lbPort = lb!;
  statsPort = stats!;
});

afterEach(async () => {
  haproxy?.kill("SIGKILL");
  await haproxy?.catch(() => {});
  haproxy = undefined;
});

afterAll(async () => {
  for (const b of [named, anonymous]) await new Promise((resolve) => b.server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function startHaproxy(mode: ServedByHeaderMode): Promise<void> {
  const file = join(dir, `${mode}.cfg`);
  const text = renderHaproxyConfig({
    labName: "hdr",
    bindAddress: "127.0.0.1",
    port: lbPort,
    statsPort,
    servedByHeader: mode,
    checkIntervalMs: 200,
    backends: [
      { name: "app1", address: "127.0.0.1", port: named.port },
      { name: "app2", address: "127.0.0.1", port: anonymous.port },
    ],
  });
  await writeFile(file, text);
  haproxy = execa("haproxy", ["-db", "-f", file], { reject: false, all: true });
  // Both servers UP means HAProxy's own health checks got 200 from GET /health.
  await expect
    .poll(
      async () => {
        const servers = await fetchHaproxyServerStatus(`http://127.0.0.1:${statsPort}/stats;csv`).catch(
          () => [],
        );
        return servers.map((s) => `${s.server}:${s.status}:${s.checkStatus}`).sort();
      },
      { timeout: 10_000, interval: 100 },
    )
    .toEqual(["app1:UP:L7OK", "app2:UP:L7OK"]);
}

async function servedBy(requests: number): Promise<(string | undefined)[]> {
  const seen: (string | undefined)[] = [];
  for (let i = 0; i < requests; i++) {
    const res = await httpProbe(`http://127.0.0.1:${lbPort}/`);
    expect(res.status).toBe(200);
    seen.push(headerValue(res, "x-served-by"));
  }
  return seen;
}

describe("rendered HAProxy config under the real HAProxy", () => {
  it("health checks are GET /health over HTTP/1.1 with a Host header", async () => {
    await startHaproxy("if-missing");
    const check = named.checks.at(-1);
    expect(check).toMatchObject({ method: "GET", url: "/health" });
    expect(check?.headers.host).toBe("labgate-check");
  });

  it("if-missing: keeps the app's own X-Served-By and adds the server name only where it is missing", async () => {
    await startHaproxy("if-missing");
    expect(new Set(await servedBy(6))).toEqual(new Set(["own-name", "app2"]));
  });

  it("always: every answer names the HAProxy server; never: answers are left alone", async () => {
    await startHaproxy("always");
    expect(new Set(await servedBy(6))).toEqual(new Set(["app1", "app2"]));
    haproxy?.kill("SIGKILL");
    await haproxy?.catch(() => {});
    await startHaproxy("never");
    expect(new Set(await servedBy(6))).toEqual(new Set(["own-name", undefined]));
  });
});
