#!/usr/bin/env node
// bench:self — how close is labgate's load engine to wrk? One HAProxy that answers by itself
// (`http-request return`, no backend: the target is never the bottleneck we measure) on loopback;
// against it, in rotated rounds, every generator runs for the same time with the same connections:
//   wrk -t1, wrk -t2, bare autocannon, labgate (default: net engine, default workers), labgate
//   --workers 1 and --workers 2 (how the default was chosen), labgate --engine undici, labgate
//   --engine autocannon.
// Each generator runs as its own process under /usr/bin/time, so its CPU seconds and peak RSS are
// the kernel's figures. Reported: median req/s, requests per generator CPU-second, peak RSS, and the
// median of per-round ratios labgate/wrk -t2 (adjacent runs share the machine's momentary load).
// Goals (issue 14): >= 0.8x wrk -t2 req/s, >= 0.6x wrk's requests per CPU-second, RSS <= 80 MiB.
// Not a test: run it by hand (`npm run build && npm run bench:self`). Exit 1 when a goal is missed.
//
//   BENCH_SELF_SECONDS=5 BENCH_SELF_ROUNDS=3 BENCH_SELF_CONNECTIONS=50 (defaults)
//   BENCH_SELF_ONLY=wrk2,labgate   run only these generators (names as printed)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const dist = here("../dist/index.js");
// The `labgate` command as users run it: its RSS counts toward the goal as the library's does.
const cliBin = here("../../cli/dist/bin.js");
if (!existsSync(dist) || !existsSync(cliBin)) {
  console.error(
    "bench:self needs the built packages (bench and the labgate CLI): run `npm run build` first.",
  );
  process.exit(2);
}
for (const [bin, pkg] of [
  ["haproxy", "haproxy"],
  ["wrk", "wrk"],
  ["/usr/bin/time", "time"],
]) {
  if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) {
    console.error(`bench:self needs ${bin}: run ./scripts/install-system-deps.sh (Debian package ${pkg}).`);
    process.exit(4);
  }
}

const seconds = Number(process.env.BENCH_SELF_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_SELF_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_SELF_CONNECTIONS ?? 50);
const only = process.env.BENCH_SELF_ONLY?.split(",").filter(Boolean);
const GOALS = { rps: 0.8, perCpu: 0.6, rssMiB: 80 };

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), "labgate-bench-self-"));
const config = join(dir, "haproxy.cfg");
writeFileSync(
  config,
  [
    "global",
    "  maxconn 4000",
    "  nbthread 1",
    "defaults",
    "  mode http",
    "  timeout client 30s",
    "  timeout server 30s",
    "  timeout connect 5s",
    "frontend self",
    `  bind 127.0.0.1:${port}`,
    '  http-request return status 200 content-type text/plain string "ok" hdr X-Served-By haproxy',
    "",
  ].join("\n"),
);
const haproxy = spawn("haproxy", ["-db", "-f", config], { stdio: ["ignore", "ignore", "inherit"] });
const url = `http://127.0.0.1:${port}/`;
await waitForPort(port);

const labgateScript = (extra) =>
  `const { runBench } = await import(${JSON.stringify(dist)});` +
  `const r = await runBench({ url: ${JSON.stringify(url)}, connections: ${connections}, durationMs: ${seconds * 1000}, ${extra} });` +
  "console.log(JSON.stringify({ requests: r.requests.responses, rps: r.throughput.rps, p50: r.latency.p50Us, trustworthy: r.generator.trustworthy, workers: r.generator.workers }));";
const autocannonScript =
  `const autocannon = (await import("autocannon")).default;` +
  `autocannon({ url: ${JSON.stringify(url)}, connections: ${connections}, duration: ${seconds} }, (err, res) => {` +
  "if (err) throw err; console.log(JSON.stringify({ requests: res.requests.total, rps: res.requests.total / res.duration, p50: res.latency.p50 * 1000 })); });";

const generators = [
  {
    name: "wrk1",
    label: "wrk -t1",
    cmd: ["wrk", "-t1", `-c${connections}`, `-d${seconds}s`, url],
    parse: parseWrk,
  },
  {
    name: "wrk2",
    label: "wrk -t2",
    cmd: ["wrk", "-t2", `-c${connections}`, `-d${seconds}s`, url],
    parse: parseWrk,
  },
  {
    name: "autocannon",
    label: "bare autocannon",
    cmd: [process.execPath, "--input-type=module", "-e", autocannonScript],
    parse: lastJsonLine,
  },
  {
    name: "labgate",
    label: "labgate (defaults: net engine)",
    cmd: [process.execPath, "--input-type=module", "-e", labgateScript("")],
    parse: lastJsonLine,
  },
  {
    name: "labgate-cli",
    label: "labgate bench run (the CLI)",
    cmd: [
      process.execPath,
      cliBin,
      "bench",
      "run",
      "--url",
      url,
      "-c",
      String(connections),
      "-d",
      `${seconds}s`,
      "--json",
      "--no-progress",
    ],
    parse: (stdout) => {
      const r = JSON.parse(stdout);
      return {
        requests: r.requests.responses,
        rps: r.throughput.rps,
        p50: r.latency.p50Us,
        trustworthy: r.generator.trustworthy,
      };
    },
  },
  {
    name: "labgate-w1",
    label: "labgate --workers 1",
    cmd: [process.execPath, "--input-type=module", "-e", labgateScript("workers: 1")],
    parse: lastJsonLine,
  },
  {
    name: "labgate-w2",
    label: "labgate --workers 2",
    cmd: [process.execPath, "--input-type=module", "-e", labgateScript("workers: 2")],
    parse: lastJsonLine,
  },
  {
    name: "labgate-undici",
    label: "labgate --engine undici",
    cmd: [process.execPath, "--input-type=module", "-e", labgateScript('engine: "undici"')],
    parse: lastJsonLine,
  },
  {
    name: "labgate-autocannon",
    label: "labgate --engine autocannon",
    cmd: [process.execPath, "--input-type=module", "-e", labgateScript('engine: "autocannon"')],
    parse: lastJsonLine,
  },
].filter((g) => !only || only.includes(g.name));

/** Runs one generator under /usr/bin/time: its own numbers plus the kernel's CPU seconds and peak RSS. */
function runOne(g) {
  const r = spawnSync("/usr/bin/time", ["-f", "TIME %U %S %M", ...g.cmd], {
    cwd: here(".."),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const time = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !time) throw new Error(`${g.label} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const out = g.parse(r.stdout.trim());
  const cpuSec = Number(time[1]) + Number(time[2]);
  return { ...out, cpuSec, perCpu: out.requests / Math.max(cpuSec, 0.001), rssMiB: Number(time[3]) / 1024 };
}

function lastJsonLine(stdout) {
  return JSON.parse(stdout.split("\n").pop());
}

function parseWrk(stdout) {
  const rps = Number(/Requests\/sec:\s*([\d.]+)/.exec(stdout)?.[1]);
  const total = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  return { requests: total, rps };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const load = spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim();
  console.log(
    `bench:self — HAProxy answering by itself at ${url}; ${connections} connections, ${rounds} rotated rounds of ${seconds}s; ${(await import("node:os")).availableParallelism()} CPUs, load average ${load}`,
  );
  const samples = Object.fromEntries(generators.map((g) => [g.name, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order, and reverse it every other round, so no generator always runs first (cold)
    // or always right after the same neighbour (whose sockets may still be closing on the target).
    const rotated = generators.map((_, i) => generators[(i + round) % generators.length]);
    const order = round % 2 ? rotated.reverse() : rotated;
    for (const g of order) {
      const s = runOne(g);
      samples[g.name].push(s);
      console.log(
        `round ${round + 1} ${g.label.padEnd(34)} ${s.rps.toFixed(0).padStart(7)} req/s  ${s.perCpu.toFixed(0).padStart(7)} req/CPU-s  RSS ${s.rssMiB.toFixed(1).padStart(6)} MiB${s.trustworthy === false ? "  (flagged untrustworthy)" : ""}`,
      );
    }
  }
  console.log("\nmedians:");
  const summary = {};
  for (const g of generators) {
    const xs = samples[g.name];
    summary[g.name] = {
      rps: median(xs.map((x) => x.rps)),
      perCpu: median(xs.map((x) => x.perCpu)),
      rssMiB: Math.max(...xs.map((x) => x.rssMiB)),
    };
    const m = summary[g.name];
    console.log(
      `  ${g.label.padEnd(34)} ${m.rps.toFixed(0).padStart(7)} req/s  ${m.perCpu.toFixed(0).padStart(7)} req/CPU-s  peak RSS ${m.rssMiB.toFixed(1)} MiB`,
    );
  }
  let ok = true;
  if (samples.labgate && samples.wrk2) {
    const ratio = (pick) => median(samples.labgate.map((l, i) => pick(l) / pick(samples.wrk2[i])));
    const rpsRatio = ratio((x) => x.rps);
    const cpuRatio = ratio((x) => x.perCpu);
    const rss = Math.max(summary.labgate.rssMiB, summary["labgate-cli"]?.rssMiB ?? 0);
    const verdict = (pass) => (pass ? "met" : "MISSED");
    console.log(
      `\nlabgate / wrk -t2 req/s: ${rpsRatio.toFixed(2)} (goal >= ${GOALS.rps}: ${verdict(rpsRatio >= GOALS.rps)})`,
    );
    console.log(
      `labgate / wrk -t2 requests per CPU-second: ${cpuRatio.toFixed(2)} (goal >= ${GOALS.perCpu}: ${verdict(cpuRatio >= GOALS.perCpu)})`,
    );
    console.log(
      `labgate peak RSS (library and CLI): ${rss.toFixed(1)} MiB (goal <= ${GOALS.rssMiB}: ${verdict(rss <= GOALS.rssMiB)})`,
    );
    ok = rpsRatio >= GOALS.rps && cpuRatio >= GOALS.perCpu && rss <= GOALS.rssMiB;
    // What the verdict is worth: with more runnable threads than cores, each generator gets the CPU
    // share the scheduler gives its thread count (wrk -t2 has two threads, labgate's default one), so
    // req/s ratios measure the machine's load as much as the generators.
    const cpus = (await import("node:os")).availableParallelism();
    const loadEnd = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
    const loadStart = Number(load.split(" ")[0]);
    const untrusted = samples.labgate.filter((x) => x.trustworthy === false).length;
    if (Math.max(loadStart, loadEnd) > cpus) {
      console.log(
        `\nThe machine was busy (load average ${loadStart} at the start, ${loadEnd} at the end, on ${cpus} CPUs): the req/s ratio is not a fair judgement of the engine; requests per CPU-second and RSS are the kernel's accounting and move much less. Re-run on a quiet machine to judge the goals.`,
      );
    }
    if (untrusted > 0) {
      console.log(
        `labgate flagged ${untrusted} of its ${samples.labgate.length} default runs untrustworthy (the generator saturated or starved): as a user's run would say, those figures may describe the generator or the machine, not the target.`,
      );
    }
  }
  process.exitCode = ok ? 0 : 1;
} finally {
  haproxy.kill();
  rmSync(dir, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(p) {
  const { connect } = await import("node:net");
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const c = connect(p, "127.0.0.1", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`HAProxy did not start listening on 127.0.0.1:${p}`);
}
