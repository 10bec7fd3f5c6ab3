import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { BenchFileError, SloSyntaxError } from "./errors.js";
import { applySlos, evaluateSlos, loadSloFile, parseSlo } from "./slo.js";
import { latency, makeResult } from "./test-support/fixtures.js";
import { tempDir } from "./test-support/temp-dir.js";

describe("parseSlo", () => {
  it.each([
    ["p99<250ms", "p99", "<", 250_000, "us"],
    ["p95<=100ms", "p95", "<=", 100_000, "us"],
    ["  p50 < 20 ms ", "p50", "<", 20_000, "us"],
    ["p99.9<1s", "p99.9", "<", 1_000_000, "us"],
    ["p999<1.5s", "p999", "<", 1_500_000, "us"],
    ["p(95)<200", "p95", "<", 200_000, "us"],
    ["P99<500us", "p99", "<", 500, "us"],
    ["max<2s", "max", "<", 2_000_000, "us"],
    ["mean<=10ms", "mean", "<=", 10_000, "us"],
    ["service_p99<50ms", "service_p99", "<", 50_000, "us"],
    ["jitter<5ms", "jitter", "<", 5000, "us"],
    ["spread<100ms", "spread", "<", 100_000, "us"],
    ["rps>=500", "rps", ">=", 500, "per_s"],
    ["rps>1e3", "rps", ">", 1000, "per_s"],
    ["errors<1%", "errors", "<", 1, "pct"],
    ["errors<0.5%", "errors", "<", 0.5, "pct"],
    ["errors<=0", "errors", "<=", 0, "count"],
    ["timeouts<10", "timeouts", "<", 10, "count"],
    ["non2xx<2%", "non2xx", "<", 2, "pct"],
    ["backend_share>=40%", "backend_share", ">=", 40, "pct"],
    ["backends>=2", "backends", ">=", 2, "count"],
  ])("%s", (expr, metric, operator, threshold, unit) => {
    expect(parseSlo(expr)).toMatchObject({ metric, operator, threshold, unit, expression: expr.trim() });
  });

  it.each([
    ["", /empty/],
    ["   ", /empty/],
    ["p99", /no comparison operator/],
    ["p99 250ms", /no comparison operator/],
    ["p99<", /shape/],
    ["p99<<250ms", /shape/],
    ["p99=250ms", /no comparison operator/],
    ["<250ms", /shape/],
    ["p98.5x<1ms", /unknown metric/],
    ["latency<250ms", /unknown metric "latency"/],
    ["p99<250parsecs", /"parsecs" is not a time unit/],
    ["p99<abc", /shape/],
    ["p99<-5ms", /not a non-negative number/],
    ["rps>=500ms", /not a unit for rps/],
    ["errors<1.5", /count and must be a whole number/],
    ["errors<1ms", /not a unit for errors/],
    ["backend_share>=40", /needs a percentage/],
    ["backend_share>=140%", /more than 100%/],
    ["backends>=2%", /whole number without unit/],
    ["p99<250ms and p50<1ms", /shape/],
  ])("rejects %j", (expr, message) => {
    let caught: unknown;
    try {
      parseSlo(expr);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SloSyntaxError);
    const error = caught as SloSyntaxError;
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`"${expr.trim()}"`);
    expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error.code).toBe("BENCH_SLO_INVALID");
    expect(error.hint).toBeTruthy();
  });
});

describe("evaluateSlos", () => {
  const result = makeResult();
  const judge = (expr: string) => evaluateSlos(result, [parseSlo(expr)])[0]!;

  it.each([
    ["p99<250ms", 200_000, true],
    ["p99<200ms", 200_000, false],
    ["p99<=200ms", 200_000, true],
    ["rps>=100", 100, true],
    ["rps>100", 100, false],
    ["errors<1%", 1, false],
    ["errors<=1%", 1, true],
    ["errors<=10", 10, true],
    ["errors<10", 10, false],
    ["jitter<5ms", 3000, true],
    ["backend_share>=40%", 40, true],
    ["backend_share>40%", 40, false],
    ["backends>=2", 2, true],
    ["non2xx<1%", 1, false],
  ])("%s → actual %d, pass %s", (expr, actual, pass) => {
    expect(judge(expr)).toMatchObject({ expression: expr, actual, pass });
  });

  it("fails latency SLOs when nothing was measured instead of passing on zeros", () => {
    const dead = makeResult({ latency: latency(0, { count: 0 }) });
    const [verdict] = evaluateSlos(dead, [parseSlo("p99<250ms")]);
    expect(verdict).toMatchObject({ pass: false, actual: null, note: "no responses were measured" });
  });

  it("fails backend_share when no response named its backend", () => {
    const plain = makeResult({
      backends: { header: "X-Served-By", entries: [], minSharePct: null, unlabeled: 1000 },
    });
    const [verdict] = evaluateSlos(plain, [parseSlo("backend_share>=40%")]);
    expect(verdict?.pass).toBe(false);
    expect(verdict?.note).toMatch(/X-Served-By/);
  });

  it("judges on exact values, not on the rounded figures of the result", () => {
    // 1 failure in 100 000 attempts is 0.001%: rounded to two decimals it would read 0% and pass.
    const rare = makeResult({
      requests: { ...makeResult().requests, responses: 100_000, failed: 1, errorRatePct: 0, non2xx: 1 },
    });
    const [zero, tiny] = evaluateSlos(rare, [parseSlo("errors<=0%"), parseSlo("errors<0.01%")]);
    expect(zero).toMatchObject({ pass: false, actualText: "0.001%" });
    expect(zero!.actual).toBeCloseTo(0.001, 6);
    expect(tiny?.pass).toBe(true);

    // 39 996 of 100 000 is 39.996%, shown as 40% in the table but below backend_share>=40%.
    const skewed = makeResult({
      requests: { ...makeResult().requests, responses: 100_000 },
      backends: {
        header: "X-Served-By",
        entries: [
          { name: "web1", count: 60_004, sharePct: 60, latency: latency(1000) },
          { name: "web2", count: 39_996, sharePct: 40, latency: latency(1000) },
        ],
        minSharePct: 40,
        unlabeled: 0,
      },
    });
    expect(evaluateSlos(skewed, [parseSlo("backend_share>=40%")])[0]).toMatchObject({
      pass: false,
      actualText: "39.996%",
    });

    // 4 999 responses in 10 s is 499.9/s: not rps>=500, even if a rounded figure said 500.
    const slow = makeResult({
      requests: { ...makeResult().requests, responses: 4999 },
      throughput: { rps: 500, bytesPerSec: 0, bytes: 0 },
    });
    expect(evaluateSlos(slow, [parseSlo("rps>=500")])[0]).toMatchObject({ pass: false, actual: 499.9 });

    // 250.4 ms reads "250ms" at table precision; the verdict text shows why p99<250ms failed.
    const edge = makeResult({ latency: latency(250_400) });
    expect(evaluateSlos(edge, [parseSlo("p99<250ms")])[0]).toMatchObject({
      pass: false,
      actualText: "250400µs",
    });
  });

  it("says beside backend_share when only one backend answered", () => {
    const single = makeResult({
      backends: {
        header: "X-Served-By",
        entries: [{ name: "web1", count: 1000, sharePct: 100, latency: latency(1000) }],
        minSharePct: 100,
        unlabeled: 0,
      },
    });
    const [share, count] = evaluateSlos(single, [parseSlo("backend_share>=40%"), parseSlo("backends>=2")]);
    expect(share).toMatchObject({ pass: true, actual: 100 });
    expect(share?.note).toMatch(/only one backend \(web1\)/);
    expect(count).toMatchObject({ pass: false, actual: 1 });
  });

  it("applySlos sets the overall verdict", () => {
    expect(applySlos(result, []).slosPassed).toBeNull();
    expect(applySlos(result, [parseSlo("p99<250ms")]).slosPassed).toBe(true);
    expect(applySlos(result, [parseSlo("p99<250ms"), parseSlo("rps>=1000")]).slosPassed).toBe(false);
  });
});

describe("loadSloFile", () => {
  it("reads YAML, JSON and k6-style threshold files", async () => {
    const dir = await tempDir("labgate-slo-");
    await writeFile(join(dir, "a.yaml"), "slos:\n  - p99<250ms\n  - errors<1%\n");
    await writeFile(join(dir, "b.json"), JSON.stringify(["rps>=500", "jitter<5ms"]));
    await writeFile(join(dir, "c.yml"), "thresholds:\n  http_req_duration: ['p(95)<200']\n");
    expect((await loadSloFile(join(dir, "a.yaml"))).map((s) => s.metric)).toEqual(["p99", "errors"]);
    expect((await loadSloFile(join(dir, "b.json"))).map((s) => s.metric)).toEqual(["rps", "jitter"]);
    expect((await loadSloFile(join(dir, "c.yml")))[0]).toMatchObject({ metric: "p95", threshold: 200_000 });
  });

  it("names the file or the expression when something is wrong", async () => {
    const dir = await tempDir("labgate-slo-");
    await writeFile(join(dir, "bad.json"), "{not json");
    await writeFile(join(dir, "shape.yaml"), "p99: 250\n");
    await writeFile(join(dir, "expr.yaml"), "- p99<250ms\n- p99<<1\n");
    await expect(loadSloFile(join(dir, "bad.json"))).rejects.toThrow(BenchFileError);
    await expect(loadSloFile(join(dir, "shape.yaml"))).rejects.toThrow(/must contain a list/);
    await expect(loadSloFile(join(dir, "expr.yaml"))).rejects.toThrow(
      `Invalid SLO "p99<<1" in ${join(dir, "expr.yaml")}:`,
    );
    await expect(loadSloFile(join(dir, "expr.yaml"))).rejects.toMatchObject({
      code: "BENCH_SLO_INVALID",
      exitCode: ExitCode.INVALID_INPUT,
      expression: "p99<<1",
    });
    await expect(loadSloFile(join(dir, "missing.yaml"))).rejects.toThrow(/cannot read the SLO file/);
  });
});
