#!/usr/bin/env node
// bench:self — how much throughput does labgate's recording cost? In one run against the same
// loopback target (a separate process), alternate bare autocannon and `labgate bench run`
// (closed loop, same connections and duration) and compare requests per second.
// labgate must keep >= 0.85x of bare autocannon. Not a test: run it by hand or in CI.
//
//   npm run build -w packages/bench && npm run bench:self -w packages/bench
//   BENCH_SELF_SECONDS=4 BENCH_SELF_ROUNDS=5 BENCH_SELF_CONNECTIONS=20 (defaults)
// Each round runs both back to back, alternating which goes first, and the verdict is the median of
// the per-round ratios: adjacent runs share the machine's momentary load, so the pairing cancels most
// of the noise from other processes on a busy machine.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const dist = here("../dist/index.js");
if (!existsSync(dist)) {
  console.error("bench:self needs the built package: run `npm run build -w packages/bench` first.");
  process.exit(2);
}
const { runBench } = await import(dist);
const autocannon = createRequire(import.meta.url)("autocannon");

const seconds = Number(process.env.BENCH_SELF_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_SELF_ROUNDS ?? 5);
const connections = Number(process.env.BENCH_SELF_CONNECTIONS ?? 20);
const THRESHOLD = 0.85;

const server = spawn(
  process.execPath,
  [here("../src/test-support/target-server.mjs"), JSON.stringify({ backends: ["web1", "web2"] })],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const port = await new Promise((resolve, reject) => {
  server.stdout.once("data", (d) => resolve(Number(String(d).trim())));
  server.once("exit", (code) => reject(new Error(`target exited (${code})`)));
});
const url = `http://127.0.0.1:${port}/`;

function bare(durationSec) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: durationSec }, (err, res) => {
      if (err) reject(err);
      else resolve(res.requests.total / res.duration);
    });
  });
}

async function labgate() {
  const r = await runBench({ url, connections, durationMs: seconds * 1000 });
  return {
    rps: r.throughput.rps,
    cpu: r.generator.cpuPercent,
    p99: r.latency.p99Us,
    backends: r.backends.entries.length,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  console.log(
    `bench:self — target ${url} (separate process), ${connections} connections, ${rounds} rounds of ${seconds}s each`,
  );
  await bare(1); // JIT and socket warm-up, discarded
  const ratios = [];
  for (let i = 1; i <= rounds; i++) {
    let b;
    let l;
    if (i % 2) {
      b = await bare(seconds);
      l = await labgate();
    } else {
      l = await labgate();
      b = await bare(seconds);
    }
    ratios.push(l.rps / b);
    console.log(
      `round ${i}: bare autocannon ${b.toFixed(0)} req/s | labgate ${l.rps.toFixed(0)} req/s (generator CPU ${l.cpu}%, p99 ${(l.p99 / 1000).toFixed(2)}ms, ${l.backends} backends) | ratio ${(l.rps / b).toFixed(3)}`,
    );
  }
  const ratio = median(ratios);
  console.log(
    `ratio labgate/autocannon = ${ratio.toFixed(3)} (median of ${rounds} paired rounds; required >= ${THRESHOLD}) → ${ratio >= THRESHOLD ? "OK" : "TOO SLOW"}`,
  );
  process.exitCode = ratio >= THRESHOLD ? 0 : 1;
} finally {
  server.kill();
}
