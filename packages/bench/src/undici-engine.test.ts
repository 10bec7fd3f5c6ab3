import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatResultText } from "./format.js";
import { decodeHistogram } from "./histogram.js";
import { runBench } from "./run-bench.js";
import { testTarget } from "./test-support/test-target.js";

const within = (a: number, b: number, pct: number) => Math.abs(a - b) / Math.max(a, b) <= pct / 100;

describe("undici engine", () => {
  it("agrees with the autocannon reference engine on a fixed-delay target (p50 within 5%), closed loop and constant rate", async () => {
    const t = await testTarget({ backends: ["web1"], backendDelayMs: { web1: 20 } });
    // Interleaved rounds, best p50 of each: on a shared machine one round can be slowed by others'
    // work; the least-disturbed round of each engine is the comparable figure.
    const best = async (base: Parameters<typeof runBench>[0]) => {
      const p50 = { undici: [] as number[], autocannon: [] as number[] };
      for (let round = 0; round < 5; round++) {
        for (const engine of ["undici", "autocannon"] as const) {
          const r = await runBench({ ...base, engine });
          expect(r.generator.engine).toBe(engine);
          expect(r.requests.failed).toBe(0);
          expect(r.latency.p50Us).toBeGreaterThanOrEqual(20_000);
          p50[engine].push(r.latency.p50Us);
        }
      }
      return { undici: Math.min(...p50.undici), autocannon: Math.min(...p50.autocannon) };
    };
    const closed = await best({ url: t.url, connections: 8, durationMs: 1000 });
    expect(
      within(closed.undici, closed.autocannon, 5),
      `closed loop p50 ${closed.undici}µs vs reference ${closed.autocannon}µs`,
    ).toBe(true);
    const open = await best({ url: t.url, rate: 100, connections: 8, durationMs: 1000 });
    expect(
      within(open.undici, open.autocannon, 5),
      `constant rate p50 ${open.undici}µs vs reference ${open.autocannon}µs`,
    ).toBe(true);
  }, 120_000);
});

// The same engine core under both clients: what it promises must hold for each.
describe.each(["net", "undici"] as const)("labgate engine on %s", (engine) => {
  it("merges its threads exactly: counts, histograms and the per-backend split match what the target served", async () => {
    const t = await testTarget({ backends: ["web1", "web2"], backendDelayMs: { web2: 3 } });
    const r = await runBench({ url: t.url, engine, connections: 6, workers: 3, durationMs: 1500 });
    expect(r.generator.engine).toBe(engine);
    expect(r.generator.workers).toBe(3);
    expect(r.generator.threads).toHaveLength(3);
    const served = await t.stats();
    const servedTotal = served.perBackend["web1"]! + served.perBackend["web2"]!;
    // Only the requests in flight when the window closed were served but not counted.
    expect(servedTotal - r.requests.responses).toBeGreaterThanOrEqual(0);
    expect(servedTotal - r.requests.responses).toBeLessThanOrEqual(6);
    expect(decodeHistogram(r.histograms.latency).totalCount).toBe(r.requests.responses);
    // The target alternates web1/web2 per request, so both served; each thread's split must survive the merge.
    const seen = JSON.stringify({ served, responses: r.requests.responses, backends: r.backends });
    const web1 = r.backends.entries.find((e) => e.name === "web1");
    const web2 = r.backends.entries.find((e) => e.name === "web2");
    expect(web1, seen).toBeDefined();
    expect(web2, seen).toBeDefined();
    expect(web1!.count + web2!.count, seen).toBe(r.requests.responses);
    expect(decodeHistogram(r.histograms.perBackend["web2"]!).totalCount).toBe(web2!.count);
    expect(web2!.latency.p50Us).toBeGreaterThanOrEqual(3000);
    // The series holds every response once, in the interval it completed in.
    const inSeries = r.series.points.reduce((sum, p) => sum + (p.rps * r.series.intervalMs) / 1000, 0);
    expect(Math.round(inSeries)).toBe(r.requests.responses);

    // Constant rate: the threads share one schedule, every due request is sent exactly once.
    const before = (await t.stats()).served;
    const open = await runBench({
      url: t.url,
      engine,
      rate: 200,
      connections: 4,
      workers: 2,
      durationMs: 1500,
    });
    expect(open.requests.sent).toBe(300);
    expect(open.requests.responses).toBe(300);
    expect((await t.stats()).served - before).toBe(300);
  });

  it("backs off from a target that refuses connections: few attempts, non-zero errors, no latency rows", async () => {
    const closed = await runBench({ url: "http://127.0.0.1:1/", engine, connections: 10, durationMs: 2000 });
    expect(closed.requests.responses).toBe(0);
    expect(closed.requests.errorsByCode["ECONNREFUSED"]).toBeGreaterThan(0);
    // Spinning would be thousands of attempts a second; doubling pauses up to 1 s give ~10 per connection.
    expect(closed.requests.connectionErrors).toBeLessThanOrEqual(200);
    expect(closed.latency.count).toBe(0);
    const text = formatResultText(closed);
    expect(text).not.toMatch(/Latency|Jitter|0µs/);
    expect(text).toMatch(/No response was received/);

    const open = await runBench({
      url: "http://127.0.0.1:1/",
      engine,
      rate: 200,
      connections: 4,
      durationMs: 1000,
    });
    // Nothing waits for a connection that is backing off: no request ends as a (5 s) timeout, each
    // fails at once with the refusal.
    expect(open.requests.timeouts).toBe(0);
    expect(open.requests.errorsByCode["ETIMEDOUT"]).toBeUndefined();
    expect(open.requests.responses).toBe(0);
    expect(open.requests.sent).toBe(200);
    expect(open.requests.connectionErrors, JSON.stringify(open.requests.errorsByCode)).toBe(200);
    expect(open.requests.errorsByCode["ECONNREFUSED"]).toBe(200);
  });

  // The body trickles forever: an idle timeout never fires and an engine that waited for the body
  // would never return, so the test's own timeout is the bound; timeouts inside the 1.5 s window
  // show the 400 ms deadline held (a wall-clock bound would only measure the machine's load).
  it("times out a whole exchange, not an idle socket: a trickling body fails at --timeout", async () => {
    const t = await testTarget({ drip: true });
    const r = await runBench({ url: t.url, engine, connections: 2, durationMs: 1500, timeoutMs: 400 });
    expect(r.requests.timeouts).toBeGreaterThanOrEqual(2);
    expect(r.requests.errorsByCode["ETIMEDOUT"]).toBe(r.requests.timeouts);
    expect(r.requests.responses).toBe(0);
  }, 20_000);

  it("speaks TLS: counts responses with --insecure, and backs off from a certificate it cannot verify", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lgt-bench-tls-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
          "-subj",
          "/CN=localhost",
          "-days",
          "1",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
        ],
        { stdio: "ignore" },
      );
      const server = createHttpsServer(
        { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
        (_req, res) => {
          res.setHeader("x-served-by", "tls1");
          res.end("ok");
        },
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/`;
        const ok = await runBench({
          url,
          engine,
          insecure: true,
          connections: 2,
          workers: 1,
          durationMs: 800,
        });
        expect(ok.requests.failed, JSON.stringify(ok.requests.errorsByCode)).toBe(0);
        expect(ok.requests.responses).toBeGreaterThan(20);
        expect(ok.backends.entries.map((b) => b.name)).toEqual(["tls1"]);
        // Self-signed and not trusted: every attempt fails the handshake, and the connections back
        // off (10 ms doubling) instead of repeating it as fast as the CPU allows.
        const refused = await runBench({ url, engine, connections: 2, workers: 1, durationMs: 1000 });
        expect(refused.requests.responses).toBe(0);
        expect(refused.requests.errorsByCode["DEPTH_ZERO_SELF_SIGNED_CERT"]).toBeGreaterThan(0);
        expect(refused.requests.connectionErrors).toBeLessThanOrEqual(40);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
