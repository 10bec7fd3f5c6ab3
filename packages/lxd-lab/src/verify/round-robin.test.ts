import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { formatRoundRobinReport, verifyRoundRobin } from "./round-robin.js";

/** A stand-in LB on loopback: answers each request with the next X-Served-By value of `pattern`. */
async function fakeLb(pattern: (string | null)[], status = 200): Promise<{ url: string; server: Server }> {
  let i = 0;
  const server = createServer((_req, res) => {
    const name = pattern[i++ % pattern.length];
    res.writeHead(status, name ? { "x-served-by": name } : {});
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  return { url: `http://127.0.0.1:${address.port}/`, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function run(
  pattern: (string | null)[],
  options: { requests?: number; tolerancePct?: number; status?: number } = {},
) {
  const { url, server } = await fakeLb(pattern, options.status);
  servers.push(server);
  return verifyRoundRobin({
    url,
    expectedBackends: ["app1", "app2"],
    ...(options.requests ? { requests: options.requests } : {}),
    ...(options.tolerancePct !== undefined ? { tolerancePct: options.tolerancePct } : {}),
  });
}

describe("verifyRoundRobin", () => {
  it("passes an even alternation and returns the sequence and counts", async () => {
    const report = await run(["app1", "app2"], { requests: 10 });
    expect(report.ok).toBe(true);
    expect(report.sequence).toEqual([
      "app1",
      "app2",
      "app1",
      "app2",
      "app1",
      "app2",
      "app1",
      "app2",
      "app1",
      "app2",
    ]);
    expect(report.counts).toEqual({ app1: 5, app2: 5 });
    expect(report.sharesPct).toEqual({ app1: 50, app2: 50 });
    expect(formatRoundRobinReport(report)[1]).toBe(
      "sequence: app1 app2 app1 app2 app1 app2 app1 app2 app1 app2",
    );
  });

  it("defaults to at least 20 requests", async () => {
    expect((await run(["app1", "app2"])).requests).toBe(20);
  });

  it("fails an uneven split outside the tolerance, passes it inside", async () => {
    const skewed = ["app1", "app1", "app1", "app2"]; // 75% / 25%
    const strict = await run(skewed, { requests: 20 });
    expect(strict.ok).toBe(false);
    expect(strict.problems.join("\n")).toMatch(
      /app1 served 75% of requests; an even split is 50% ± 10 points/,
    );
    expect((await run(skewed, { requests: 20, tolerancePct: 30 })).ok).toBe(true);
  });

  it("names a backend that served nothing", async () => {
    const report = await run(["app2"], { requests: 6 });
    expect(report.ok).toBe(false);
    expect(report.notServing).toEqual(["app1"]);
    expect(report.problems[0]).toBe("backend app1 served none of the 6 requests");
  });

  it("fails when any answer lacks the header, and reports unexpected servers", async () => {
    const missing = await run(["app1", "app2", null, "app1", "app2"], { requests: 5, tolerancePct: 50 });
    expect(missing.ok).toBe(false);
    expect(missing.missingHeader).toBe(1);
    expect(missing.sequence[2]).toBeNull();
    const stranger = await run(["app1", "app2", "app3"], { requests: 6, tolerancePct: 50 });
    expect(stranger.ok).toBe(false);
    expect(stranger.unexpected).toEqual(["app3"]);
  });

  it("fails on error statuses and on an unreachable LB", async () => {
    const errors = await run(["app1", "app2"], { requests: 4, status: 503 });
    expect(errors.ok).toBe(false);
    expect(errors.failed).toBe(4);
    const { url, server } = await fakeLb(["app1"]);
    await new Promise((resolve) => server.close(resolve));
    const down = await verifyRoundRobin({ url, expectedBackends: ["app1", "app2"], requests: 3 });
    expect(down.ok).toBe(false);
    expect(down.failed).toBe(3);
    expect(down.problems[0]).toMatch(/3 of 3 requests failed/);
  });
});
