import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeHistogram } from "./histogram.js";
import { runBench } from "./run-bench.js";
import { parseSlos } from "./slo.js";
import { tempDir } from "./test-support/temp-dir.js";
import { testTarget } from "./test-support/test-target.js";
import type { BenchProgress } from "./types.js";
import { writeReports } from "./write-reports.js";

describe("runBench against real loopback servers", () => {
  it("constant rate reveals a stall that the service-time and closed-loop views under-report (coordinated omission)", async () => {
    // Every 100th request stalls 200 ms; at 100 req/s over one connection, the ~20 requests due
    // during each stall wait for the connection: their latency from the schedule is up to 200 ms.
    // 3 s: the stalls at 1 s and 2 s and their queues end inside the window even when a loaded
    // machine delays the sends (in 2 s, a late generator pushed the one stall and its queue past it).
    const t = await testTarget({ stallEvery: 100, stallMs: 200 });
    const open = await runBench({ url: t.url, rate: 100, connections: 1, durationMs: 3000 });
    expect(open.options.mode).toBe("constant-rate");
    expect(open.latencyBasis).toBe("scheduled-send");
    expect(open.requests.responses).toBeGreaterThanOrEqual(295);
    expect(open.latency.p99Us).toBeGreaterThanOrEqual(150_000);
    expect(open.latency.p95Us).toBeGreaterThanOrEqual(20_000);
    // Service time sees the stalled request itself but not the queue behind it. Judged against the
    // latency of the same run (≈160 ms at p95), not a fixed figure a loaded machine can reach.
    expect(open.serviceTime.maxUs).toBeGreaterThanOrEqual(190_000);
    expect(open.serviceTime.p95Us).toBeLessThan(open.latency.p95Us / 4);
    expect(open.serviceTime.p99Us).toBeLessThan(open.latency.p99Us);
    expect(open.rate).toMatchObject({ targetRps: 100 });
    expect(open.rate!.achievedSendRps).toBeGreaterThan(90);
    expect(open.rate!.lateSends).toBeGreaterThanOrEqual(10);
    expect(open.rate!.sendLagUs.max).toBeGreaterThanOrEqual(100_000);

    // Closed loop on the same target: one stalled request per 100, the queue behind it is never sent.
    const closed = await runBench({ url: t.url, connections: 1, durationMs: 1000 });
    expect(closed.latencyBasis).toBe("actual-send");
    expect(closed.latency.maxUs).toBeGreaterThanOrEqual(190_000);
    expect(closed.latency.p90Us).toBeLessThan(closed.latency.maxUs / 4);
    expect(closed.rate).toBeNull();
  });

  it("splits responses per backend in closed loop and matches what the server counted", async () => {
    const t = await testTarget({ backends: ["web1", "web2"], backendDelayMs: { web2: 4 } });
    const r = await runBench({
      url: t.url,
      connections: 4,
      durationMs: 1200,
      slos: parseSlos(["backend_share>=40%", "backends>=2"]),
    });
    const served = await t.stats();
    const names = r.backends.entries.map((b) => b.name);
    expect(names).toEqual(["web1", "web2"]);
    const web1 = r.backends.entries[0]!;
    const web2 = r.backends.entries[1]!;
    expect(web1.count + web2.count).toBe(r.requests.responses);
    expect(r.backends.unlabeled).toBe(0);
    // The load stops with the window: the server answered at most the 4 requests in flight at the
    // end beyond what was counted, and the split must agree.
    const servedTotal = served.perBackend["web1"]! + served.perBackend["web2"]!;
    expect(servedTotal - r.requests.responses).toBeGreaterThanOrEqual(0);
    expect(servedTotal - r.requests.responses).toBeLessThanOrEqual(4);
    for (const b of r.backends.entries) {
      expect(b.count).toBeLessThanOrEqual(served.perBackend[b.name]!);
      expect(Math.abs(b.sharePct - (served.perBackend[b.name]! / servedTotal) * 100)).toBeLessThan(1);
    }
    expect(Math.abs(web1.count - web2.count)).toBeLessThanOrEqual(4);
    expect(web1.sharePct + web2.sharePct).toBeCloseTo(100, 0);
    expect(web2.latency.p50Us).toBeGreaterThanOrEqual(4000);
    expect(web1.latency.p50Us).toBeLessThan(web2.latency.p50Us);
    expect(decodeHistogram(r.histograms.perBackend["web2"]!).totalCount).toBe(web2.count);
    expect(r.slosPassed).toBe(true);
    expect(r.series.points.length).toBeGreaterThanOrEqual(1);
  });

  it("closed loop dilutes a stall in the overall percentiles, but the per-backend split shows where it is", async () => {
    // Every 100th request stalls 200 ms and the alternating backends put every stall on web1: 2% of
    // web1's answers, 1% of all. In closed loop the other connections carry on meanwhile.
    const t = await testTarget({ stallEvery: 100, stallMs: 200, backends: ["web1", "web2"] });
    const r = await runBench({ url: t.url, connections: 4, durationMs: 2000 });
    const [web1, web2] = r.backends.entries;
    expect([web1?.name, web2?.name]).toEqual(["web1", "web2"]);
    // At least two stalls on web1 whatever the machine's speed; from there they are 2% of its answers.
    expect(r.requests.responses).toBeGreaterThanOrEqual(200);
    expect(Math.abs(web1!.sharePct - 50)).toBeLessThan(1);
    expect(r.latency.p95Us).toBeLessThan(190_000);
    expect(web1!.latency.p99Us).toBeGreaterThanOrEqual(190_000);
    expect(web2!.latency.p99Us).toBeLessThan(190_000);
  });

  it("reads a custom backend header in constant-rate mode", async () => {
    const t = await testTarget({ backends: ["a", "b", "c"], backendHeader: "X-Backend" });
    const r = await runBench({ url: t.url, rate: 150, durationMs: 1000, backendHeader: "x-backend" });
    expect(r.backends.entries.map((b) => b.name)).toEqual(["a", "b", "c"]);
    for (const b of r.backends.entries) expect(b.sharePct).toBeGreaterThan(30);
  });

  it("survives a target that dies mid-run: errors counted, report written, SLOs fail", async () => {
    const dir = await tempDir("labgate-bench-dead-");
    for (const rate of [undefined, 200]) {
      const t = await testTarget({ dieAfterMs: 500 });
      const progress: BenchProgress[] = [];
      const r = await runBench(
        {
          url: t.url,
          connections: 2,
          durationMs: 1500,
          timeoutMs: 1000,
          ...(rate ? { rate } : {}),
          slos: parseSlos(["errors<1%", "errors<=0", "p99<250ms"]),
        },
        { onProgress: (p) => progress.push(p) },
      );
      expect(r.requests.responses).toBeGreaterThan(0);
      expect(r.requests.connectionErrors).toBeGreaterThan(0);
      expect(Object.keys(r.requests.errorsByCode)).toContain("ECONNREFUSED");
      expect(r.slos.find((s) => s.expression === "errors<=0")?.pass).toBe(false);
      if (rate) {
        // Every request due while the target is down fails: two thirds of the run.
        expect(r.requests.errorRatePct).toBeGreaterThan(30);
        expect(r.slos.find((s) => s.expression === "errors<1%")?.pass).toBe(false);
      } else {
        // Closed loop: each connection backs off (10 ms doubling up to 1 s) instead of spinning on
        // refused connects, so the outage shows as few errors and lost throughput, not as an error rate.
        expect(r.requests.connectionErrors).toBeLessThan(60);
        // Every response came in the first second: the window's rate is below that second's.
        expect(r.throughput.rps).toBeLessThan(r.series.points[0]!.rps);
      }
      expect(r.slosPassed).toBe(false);
      expect(r.series.points.some((p) => p.errors > 0)).toBe(true);
      expect(r.warnings.join("\n")).toMatch(/failed/);
      expect(progress.length).toBeGreaterThan(2);
      const files = await writeReports(r, join(dir, rate ? "rate" : "closed"));
      const saved = JSON.parse(await readFile(files.resultJson, "utf8"));
      expect(saved.slosPassed).toBe(false);
    }
  });

  it("excludes the warm-up: a slow start does not reach the measured percentiles", async () => {
    // The target labels what it served in its slow first 300 ms "cold", the rest "warm": whether a
    // cold answer was counted is then a fact, not a latency threshold a loaded machine could cross.
    const cold = await testTarget({ slowForMs: 300, slowDelayMs: 60, labelCold: true });
    const withWarmup = await runBench({ url: cold.url, connections: 2, warmupMs: 800, durationMs: 800 });
    expect(withWarmup.backends.entries.map((b) => b.name)).toEqual(["warm"]);
    expect(withWarmup.requests.responses).toBeGreaterThan(0);
    expect(withWarmup.series.points[0]?.warmup).toBe(true);
    expect(withWarmup.series.points[0]!.maxUs).toBeGreaterThanOrEqual(55_000);
    expect(withWarmup.measuredMs).toBe(800);

    const fresh = await testTarget({ slowForMs: 300, slowDelayMs: 60, labelCold: true });
    const noWarmup = await runBench({ url: fresh.url, connections: 2, durationMs: 800 });
    expect(noWarmup.backends.entries.map((b) => b.name)).toEqual(["cold", "warm"]);
    expect(noWarmup.latency.maxUs).toBeGreaterThanOrEqual(55_000);
  });

  it("counts timeouts separately from connection errors", async () => {
    const t = await testTarget({ stallEvery: 1, stallMs: 3000 });
    const r = await runBench({ url: t.url, rate: 20, connections: 5, durationMs: 500, timeoutMs: 300 });
    expect(r.requests.timeouts).toBeGreaterThanOrEqual(8);
    expect(r.requests.responses).toBe(0);
    expect(r.requests.errorRatePct).toBe(100);
    expect(r.warnings.join("\n")).toMatch(/No response was received/);
  });

  it("sends request headers and method but keeps credentials out of the result and reports", async () => {
    const t = await testTarget({});
    const secret = "s3cr3t-bench-token";
    const r = await runBench({
      url: t.url,
      rate: 20,
      durationMs: 300,
      method: "post",
      headers: { Authorization: `Bearer ${secret}`, "X-Lab": "demo" },
    });
    const seen = (await t.stats()).lastRequest;
    expect(seen.method).toBe("POST");
    expect(seen.headers?.["authorization"]).toBe(`Bearer ${secret}`);
    expect(seen.headers?.["x-lab"]).toBe("demo");
    expect(r.options.headers).toEqual({ Authorization: "***", "X-Lab": "demo" });
    const files = await writeReports(r, await tempDir("labgate-bench-secret-"));
    for (const file of [files.resultJson, files.reportMd, files.reportHtml]) {
      expect(await readFile(file, "utf8")).not.toContain(secret);
    }
  });

  it("stops early on abort and says so", async () => {
    const t = await testTarget({});
    const controller = new AbortController();
    // Aborted 300 ms or more into the run (the engine threads' start-up is not part of it), at the
    // first progress tick past it: on a loaded machine that tick may come late, so every figure
    // below is checked against the moment the abort really happened, on the run's own clock.
    let started = 0;
    let abortedAtElapsedMs = 0;
    const r = await runBench(
      // Ten minutes: a run that ignored the abort could not end inside the bound below on any machine.
      { url: t.url, rate: 50, durationMs: 600_000, signal: controller.signal },
      {
        onProgress: (p) => {
          if (p.elapsedMs >= 300 && !controller.signal.aborted) {
            started = performance.now();
            abortedAtElapsedMs = p.elapsedMs;
            controller.abort();
          }
        },
      },
    );
    expect(started).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(r.aborted).toBe(true);
    expect(r.requests.responses).toBeGreaterThan(5);
    // The measured window ends at the abort (the same tick), not at the asked duration.
    expect(r.measuredMs).toBeGreaterThanOrEqual(abortedAtElapsedMs - 1);
    expect(r.measuredMs).toBeLessThanOrEqual(abortedAtElapsedMs + 100);
    // Throughput is over that window: exactly the responses in it per second of it, and never more
    // than the 50 req/s the schedule sends.
    expect(r.throughput.rps).toBe(Math.round((r.requests.responses / (r.measuredMs / 1000)) * 100) / 100);
    expect(r.throughput.rps).toBeLessThan(65);
    expect(r.warnings.join("\n")).toMatch(/interrupted/);
  });
});
