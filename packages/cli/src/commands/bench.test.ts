import { readFile, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { ExitCode } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { canPin, withPinnedBusyLoop } from "../../../bench/src/test-support/pinned-busy-loop.js";
import { requestSignature, startTarget, type Target } from "../../../bench/src/test-support/target.js";
import { tempDir } from "../../../bench/src/test-support/temp-dir.js";
import { runCliInProcess } from "../test-support/in-process-cli.js";
import { benchCompareCommand, benchRunCommand } from "./bench.js";

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += c));
  stderr.on("data", (c) => (err += c));
  return { streams: { stdout, stderr }, out: () => out, err: () => err };
}

const cli = runCliInProcess;

/** A path that exists and is a file: --out under it can never be written. */
const aFile = fileURLToPath(new URL("../../package.json", import.meta.url));

/** A loopback listener that only counts the connections made to it. */
async function countingListener(): Promise<{ url: string; connections(): number; close(): Promise<void> }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const targets: Target[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.stop()));
});

describe("labgate bench run", () => {
  it("exits 0 when every SLO passes and prints human tables on stdout", async () => {
    const t = await startTarget({ backends: ["web1", "web2"] });
    targets.push(t);
    const r = await cli([
      "bench",
      "run",
      "--url",
      t.url,
      "-c",
      "2",
      "-d",
      "700ms",
      "--slo",
      "p99<250ms",
      "--slo",
      "backend_share>=40%",
      "--allow-untrustworthy",
    ]);
    // --allow-untrustworthy: the verdict stands even if other work on this machine starved the generator.
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/Latency/);
    expect(r.stdout).toMatch(/web1/);
    expect(r.stdout).toMatch(/All SLOs passed|SLOs NOT JUDGED/);
    expect(r.stderr).toMatch(/Measuring/);
    // stderr is not a TTY here: no progress bar escape sequences.
    expect(r.stderr).not.toContain("\r");
  });

  it("exits 1 on a failed SLO, still writing the reports, and --json is one parseable document", async () => {
    const t = await startTarget({});
    targets.push(t);
    const dir = await tempDir("labgate-cli-bench-");
    const sloFile = join(dir, "slos.yaml");
    await writeFile(sloFile, "slos:\n  - rps>=1000000\n");
    const r = await cli([
      "bench",
      "run",
      "--url",
      t.url,
      "--rate",
      "50",
      "-d",
      "600ms",
      "--slo",
      "errors<1%",
      "--slo-file",
      sloFile,
      "--out",
      join(dir, "out"),
      "--json",
    ]);
    expect(r.code).toBe(ExitCode.CHECK_FAILED);
    const result = JSON.parse(r.stdout);
    expect(result.slos.map((s: { expression: string; pass: boolean }) => [s.expression, s.pass])).toEqual([
      ["errors<1%", true],
      ["rps>=1000000", false],
    ]);
    expect(result.options.mode).toBe("constant-rate");
    const saved = JSON.parse(await readFile(join(dir, "out", "result.json"), "utf8"));
    expect(saved.slosPassed).toBe(false);
    expect(await readFile(join(dir, "out", "report.html"), "utf8")).toContain("<svg");
  });

  it.each([
    [["--url", "ftp://127.0.0.1/"], /only http and https/],
    [["--url", "127.0.0.1:80"], /only http and https|not a URL/],
    [["--url", "http://127.0.0.1:1/", "--duration", "ten"], /--duration "ten" is not a duration/],
    [["--url", "http://127.0.0.1:1/", "--connections", "0"], /--connections "0"/],
    [["--url", "http://127.0.0.1:1/", "--rate", "-5"], /--rate "-5"/],
    [
      ["--url", "http://127.0.0.1:1/", "--stages", "30s:500,60s"],
      /--stages stage 2 "60s" is not DURATION:TARGET/,
    ],
    [["--url", "http://127.0.0.1:1/", "--stages", "10s:0"], /--stages never asks for a request/],
    [
      ["--url", "http://127.0.0.1:1/", "--ramp", "connections"],
      /--ramp connections was given without --stages/,
    ],
    [["--url", "http://127.0.0.1:1/", "--stages", "1s:5", "--ramp", "vus"], /--ramp "vus" is not something/],
    [
      ["--url", "http://127.0.0.1:1/", "--stages", "1s:5", "--ramp", "connections", "--rate", "10"],
      /--ramp connections ramps a closed loop's connections/,
    ],
    [["--url", "http://127.0.0.1:1/", "--repeat", "0"], /--repeat "0" is not a whole number/],
    [["--url", "http://127.0.0.1:1/", "--slo", "p99<<250ms"], /Invalid SLO "p99<<250ms"/],
    [["--url", "http://127.0.0.1:1/", "--slo", "latency<1s"], /unknown metric "latency"/],
    [["--url", "http://127.0.0.1:1/", "--slo-file", "/nonexistent/slos.yaml"], /cannot read the SLO file/],
    [["--url", "http://127.0.0.1:1/", "--out", `${aFile}/out`], /--out .* cannot hold the reports/],
    [["--url", "http://127.0.0.1:1/", "--body", "{}"], /A request body was given with GET/],
    [["--url", "http://127.0.0.1:1/", "-m", "HEAD", "-b", "{}"], /A request body was given with HEAD/],
    [["--url", "http://127.0.0.1:1/", "-m", "POST", "--body", ""], /The request body is empty/],
    [
      ["--url", "http://127.0.0.1:1/", "-m", "POST", "--body", "x", "--body-file", aFile],
      /--body and --body-file were both given/,
    ],
    [
      ["--url", "http://127.0.0.1:1/", "-m", "POST", "--body-file", "/nonexistent/body.json"],
      /--body-file \/nonexistent\/body.json does not exist/,
    ],
    [
      ["--url", "http://127.0.0.1:1/", "-m", "POST", "-i", dirname(aFile)],
      /--body-file .* is not a regular file/,
    ],
    [
      ["--url", "http://127.0.0.1:1/", "-m", "POST", "--body", "x", "-H", "Content-Length: 1"],
      /"Content-Length" cannot be set by hand/,
    ],
  ])("exits 2 on bad input %j without sending traffic", async (args, message) => {
    // A listener in place of port 1: the proof that nothing was sent is that nothing connected
    // (not how fast the refusal came, which a loaded machine decides).
    const listener = await countingListener();
    try {
      const r = await cli([
        "bench",
        "run",
        ...args.map((a) => (a === "http://127.0.0.1:1/" ? listener.url : a)),
      ]);
      expect(r.code).toBe(ExitCode.INVALID_INPUT);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/what to do:/);
      expect(r.stderr).not.toMatch(/Measuring/);
      expect(listener.connections()).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it("--body-file (closed loop) and --body (constant rate) send the exact bytes; the body stays out of the output", async () => {
    const dir = await tempDir("labgate-cli-body-");
    const secret = "body-secret-2b9c";
    const body = Buffer.from(`{"text": "good ✓", "token": "${secret}"}\n`);
    await writeFile(join(dir, "body.json"), body);
    const signature = requestSignature("POST", "/predict", String(body.length), undefined, body);
    for (const mode of [
      ["-i", join(dir, "body.json"), "-c", "2"],
      ["--body", body.toString("utf8"), "--rate", "20"],
    ]) {
      const t = await startTarget({});
      targets.push(t);
      const r = await cli([
        "bench",
        "run",
        "--url",
        `${t.url}predict`,
        "-m",
        "POST",
        ...mode,
        "-d",
        "500ms",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(ExitCode.OK);
      const stats = await t.stats();
      expect(Object.keys(stats.requests)).toEqual([signature]);
      expect(stats.lastRequest.headers?.["content-type"]).toBe("application/json");
      const result = JSON.parse(r.stdout);
      expect(stats.requests[signature]).toBeGreaterThanOrEqual(result.requests.responses);
      expect(result.requests.responses).toBeGreaterThan(5);
      expect(result.options).toMatchObject({
        method: "POST",
        body: { bytes: body.length, contentType: "application/json", contentTypeInferred: true },
      });
      expect(r.stderr).toContain(
        `Measuring POST ${t.url}predict with a ${body.length} B body (application/json, inferred)`,
      );
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });

  it("exits 5 when nothing answered, without a latency table, after backing off", async () => {
    const r = await cli([
      "bench",
      "run",
      "--url",
      "http://127.0.0.1:1/",
      "-c",
      "4",
      "-d",
      "1s",
      "--slo",
      "p99<1s",
    ]);
    expect(r.code).toBe(ExitCode.EXTERNAL);
    expect(r.stdout).not.toMatch(/Latency|0µs/);
    expect(r.stdout).toMatch(/ECONNREFUSED/);
    expect(r.stderr).toMatch(/Nothing answered/);
  });

  it.skipIf(!canPin())(
    "an untrustworthy run's SLOs are not judged: exit 1, unless --allow-untrustworthy",
    async () => {
      const t = await startTarget({ backends: ["web1"] });
      targets.push(t);
      const args = [
        "bench",
        "run",
        "--url",
        t.url,
        "-c",
        "8",
        "--workers",
        "1",
        "-d",
        "1500ms",
        "--slo",
        "p99<10s",
      ];
      const [strict, allowed] = await withPinnedBusyLoop(t.child.pid!, async () => [
        await cli(args),
        await cli([...args, "--allow-untrustworthy"]),
      ]);
      expect(strict!.code).toBe(ExitCode.CHECK_FAILED);
      expect(strict!.stdout).toMatch(/SLOs NOT JUDGED/);
      expect(strict!.stdout).toMatch(/waited for a CPU/);
      expect(allowed!.code).toBe(ExitCode.OK);
    },
    60_000,
  );

  it("exits 2 when --url is missing", async () => {
    const r = await cli(["bench", "run"]);
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
  });
});

describe("labgate bench compare", () => {
  it("compares two runs side by side and flags regressions when asked", async () => {
    const fast = await startTarget({});
    // 150 ms per request (15 in flight at 100 req/s, within 30 connections): far above what a busy
    // shared machine adds to either run's per-second p50.
    const slow = await startTarget({ stallEvery: 1, stallMs: 150 });
    targets.push(fast, slow);
    const dir = await tempDir("labgate-cli-compare-");
    const a = capture();
    const b = capture();
    // Five short rounds a side: the rank test needs rounds, not long runs.
    for (const [target, side, streams] of [
      [fast, "a", a.streams],
      [slow, "b", b.streams],
    ] as const) {
      expect(
        await benchRunCommand(
          {
            url: target.url,
            rate: "100",
            connections: "30",
            duration: "400ms",
            repeat: "5",
            out: join(dir, side),
            json: true,
          },
          streams,
        ),
      ).toBe(0);
    }
    expect(JSON.parse(a.out()).rounds).toHaveLength(5);

    const c = capture();
    const code = await benchCompareCommand(
      join(dir, "a", "result.json"),
      join(dir, "b", "result.json"),
      { failOnRegression: true },
      c.streams,
    );
    expect(code).toBe(ExitCode.CHECK_FAILED);
    expect(c.out()).toMatch(/metric\s+A\s+B\s+change\s+noise ±\s+p\s+verdict\s+rounds needed/);
    expect(c.out()).toMatch(/p50 .* worse/);
    expect(c.out()).toMatch(/Noise model/);
    expect(c.err()).toMatch(/worse beyond noise: .*p50/);

    const j = await cli([
      "bench",
      "compare",
      join(dir, "a", "result.json"),
      join(dir, "a", "result.json"),
      "--json",
    ]);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.rows.find((r: { metric: string }) => r.metric === "p99").verdict).toBe("within noise");

    const md = await cli([
      "bench",
      "compare",
      join(dir, "a", "result.json"),
      join(dir, "b", "result.json"),
      "--format",
      "md",
    ]);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^### labgate bench compare\n\n🔴 \*\*Worse beyond noise:\*\* .*p50/);
    expect(md.stdout).toMatch(/\n\| metric \| A \| B \| change \|/);
    const bad = await cli([
      "bench",
      "compare",
      join(dir, "a", "result.json"),
      join(dir, "a", "result.json"),
      "--format",
      "html",
    ]);
    expect(bad.code).toBe(ExitCode.INVALID_INPUT);
    expect(bad.stderr).toMatch(/--format "html" is not known/);
  });

  it("exits 2 on a file that is not a result", async () => {
    const dir = await tempDir("labgate-cli-compare-");
    await writeFile(join(dir, "x.json"), "[]");
    const r = await cli(["bench", "compare", join(dir, "x.json"), join(dir, "x.json")]);
    expect(r.code).toBe(ExitCode.INVALID_INPUT);
    expect(r.stderr).toMatch(/not a labgate bench result/);
  });
});
