import {
  type BenchEngine,
  BenchOptionError,
  type BenchProgress,
  type BenchResult,
  checkReportDir,
  compareResults,
  describeRequest,
  formatCompareMarkdown,
  formatCompareText,
  formatResultText,
  loadBodyFile,
  loadSloFile,
  parseDuration,
  parseHeaderFlags,
  parseSlos,
  parseStages,
  readResultFile,
  resolveOptions,
  type Slo,
  writeReports,
} from "@labgate/bench";
import { ExitCode } from "@labgate/core/exit-codes";
import { runFaultBench } from "@labgate/lxd-lab/fault-bench";
import type { Command } from "commander";
import { createOutput, type OutputStreams, outputMode } from "../output.js";
import { type BenchLabFlags, refuseFaultsWithoutLab, wantsLab } from "./bench-lab-flags.js";
import { processIo } from "./lab-io.js";

export interface BenchRunFlags extends BenchLabFlags {
  url?: string;
  connections?: string;
  duration?: string;
  rate?: string;
  warmup?: string;
  timeout?: string;
  slo?: string[];
  sloFile?: string;
  backendHeader?: string;
  header?: string[];
  method?: string;
  body?: string;
  bodyFile?: string;
  insecure?: boolean;
  engine?: string;
  workers?: string;
  allowUntrustworthy?: boolean;
  repeat?: string;
  stages?: string;
  ramp?: string;
  out?: string;
  json?: boolean;
  progress?: boolean;
}

export interface BenchCompareFlags {
  json?: boolean;
  format?: string;
  failOnRegression?: boolean;
}

interface Streams extends OutputStreams {
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** `labgate bench run|compare`. */
export function registerBenchCommands(program: Command): void {
  const bench = program
    .command("bench")
    .description("Measure an HTTP service's latency, throughput and jitter and judge it against SLOs.");

  bench
    .command("run")
    .description(
      "Load a URL and report latency percentiles, throughput, jitter, per-backend split and SLO verdicts.\n" +
        "Closed loop by default (N connections, each sends when its previous response is back);\n" +
        "with --rate it sends at a constant rate and measures latency from each scheduled send time (wrk2-style).",
    )
    .option("--url <url>", "target URL (http or https); with --lab, defaults to the lab's load balancer")
    .option(
      "--lab [spec]",
      "bench a built lab (lab.json/lab.yaml here, the built-in default, or SPEC): its LB URL and backends",
    )
    .option("--state-dir <dir>", "with --lab: the lab's state dir (default .labgate/labs/<name>)")
    .option(
      "--fault <fault>",
      "with --lab: inject a fault, e.g. 'stop app2 at 5s for 10s' (stop|kill|pause|drain|maint, delay 200ms|loss 5% <app>); repeatable. " +
        "Without --fault, the faults: of --slo-file, else of the lab spec, are injected; --fault replaces them",
      collect,
      [],
    )
    .option("-y, --yes", "with --fault: do not ask before injecting the faults")
    .option(
      "-c, --connections <n>",
      "concurrent connections, default 10 (constant rate: the connection pool; --ramp connections: the ramp's start, default 0)",
    )
    .option("-d, --duration <time>", "measured duration, e.g. 10s, 1m", "10s")
    .option("-R, --rate <rps>", "constant request rate per second (open loop); omit for closed loop")
    .option("-w, --warmup <time>", "warm-up before measuring; requests are sent but not counted", "0s")
    .option("--timeout <time>", "per-request timeout", "5s")
    .option(
      "--slo <expr>",
      'SLO, repeatable: "p99<250ms", "rps>=500", "errors<1%", "jitter<5ms", "backend_share>=40%"',
      collect,
      [],
    )
    .option(
      "--slo-file <file>",
      "JSON or YAML file with a list of SLO expressions, or slos: (and, with --lab, faults:) lists",
    )
    .option(
      "--backend-header <name>",
      "response header naming the backend that served a request",
      "X-Served-By",
    )
    .option("-H, --header <header>", 'request header "Name: value", repeatable', collect, [])
    .option("-m, --method <method>", "HTTP method", "GET")
    .option(
      "-b, --body <body>",
      "request body sent with every request (needs -m POST/PUT/PATCH...); Content-Type inferred unless given with -H",
    )
    .option("-i, --body-file <file>", "like --body, read from a file (exact bytes)")
    .option(
      "-k, --insecure",
      "constant rate: do not verify the target's TLS certificate (self-signed lab certificates)",
    )
    .option(
      "--engine <name>",
      "load engine: net (labgate's, node:net sockets, worker threads), undici (the same engine on undici) or autocannon (the reference)",
      "net",
    )
    .option("--workers <n>", "engine threads (net or undici engine); default chosen per mode")
    .option(
      "--allow-untrustworthy",
      "judge the SLOs even when the generator was saturated, starved or late (otherwise: not judged, exit 1)",
    )
    .option(
      "--stages <list>",
      "ramp the load (k6 stages), e.g. 30s:500,60s:500,30s:0: the arrival rate, linear from --rate (or 0) to each target; with --ramp connections a closed loop's connections (from --connections or 0); replaces --duration",
    )
    .option(
      "--ramp <what>",
      "what --stages ramps: rate (the arrival rate, open loop; default) or connections (a closed loop's connections, k6 ramping-vus)",
    )
    .option(
      "--repeat <n>",
      "run N rounds one after the other (each with its warm-up); the result keeps every round for `bench compare`",
      "1",
    )
    .option("--out <dir>", "write result.json, report.md and report.html into this directory")
    .option("--json", "print the result as JSON on stdout")
    .option("--no-progress", "no progress bar on stderr")
    .action(async (flags: BenchRunFlags) => {
      process.exitCode = await benchRunCommand(flags);
    });

  bench
    .command("compare")
    .description(
      "Compare two result.json files side by side: change in % and whether it exceeds run-to-run noise.",
    )
    .argument("<a>", "baseline result.json (A)")
    .argument("<b>", "candidate result.json (B)")
    .option("--json", "print the comparison as JSON on stdout")
    .option("--format <format>", "text (default) or md: a Markdown table for a pull-request comment", "text")
    .option("--fail-on-regression", "exit 1 when any metric got worse beyond noise")
    .action(async (a: string, b: string, flags: BenchCompareFlags) => {
      process.exitCode = await benchCompareCommand(a, b, flags);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs `bench run` and returns the exit code: 0 SLOs pass (or none), 1 an SLO failed, 130 interrupted. Bad input throws (exit 2). */
export async function benchRunCommand(flags: BenchRunFlags, streams: Streams = process): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const slos: Slo[] = [
    ...parseSlos(flags.slo ?? []),
    ...(flags.sloFile ? await loadSloFile(flags.sloFile) : []),
  ];
  const body = await readBodyFlags(flags);
  // The lab engine is loaded only for --lab: a bench of a plain URL stays light (see bench:self).
  if (!wantsLab(flags)) await refuseFaultsWithoutLab(flags);
  const labTools = wantsLab(flags)
    ? { ...(await import("./bench-faults.js")), ...(await import("@labgate/lxd-lab")) }
    : undefined;
  const lab = await labTools?.resolveBenchLab(flags, { ...processIo(), stderr: streams.stderr });
  if (!flags.url && !lab) {
    throw new BenchOptionError(
      "No target: pass --url URL, or --lab to bench a built lab.",
      "e.g. --url http://127.0.0.1:8080/ or --lab",
    );
  }
  const options = {
    url: flags.url ?? lab?.url ?? "",
    // A connection ramp starts from --connections only when it was given (else from 0).
    ...(flags.connections !== undefined || flags.ramp !== "connections"
      ? { connections: parseCount(flags.connections ?? "10", "connections") }
      : {}),
    durationMs: parseDuration(flags.duration ?? "10s", "--duration"),
    warmupMs: parseDuration(flags.warmup ?? "0s", "--warmup"),
    timeoutMs: parseDuration(flags.timeout ?? "5s", "--timeout"),
    ...(flags.rate !== undefined ? { rate: parseRate(flags.rate) } : {}),
    backendHeader: flags.backendHeader ?? "X-Served-By",
    headers: parseHeaderFlags(flags.header ?? []),
    method: flags.method ?? "GET",
    ...(body !== undefined ? { body } : {}),
    insecure: Boolean(flags.insecure),
    engine: (flags.engine ?? "net") as BenchEngine,
    ...(flags.workers !== undefined ? { workers: parseCount(flags.workers, "workers") } : {}),
    slos,
    ...(flags.stages !== undefined ? { stages: parseStages(flags.stages) } : {}),
    ...(flags.ramp !== undefined ? { stagesOf: flags.ramp as "rate" | "connections" } : {}),
    commandLine: ["labgate", ...process.argv.slice(2)],
    // Which lab this measured: `bench compare` warns when two results come from different labs.
    ...(lab && labTools ? { lab: await labTools.labFingerprintFromState(lab.target) } : {}),
  };
  const repeat = parseCount(flags.repeat ?? "1", "repeat");
  // Every input is checked before the first request: a bad --url or --out must not cost a run.
  const resolved = resolveOptions(options);
  if (flags.out) await checkReportDir(flags.out);

  const controller = new AbortController();
  // Faults have their own signal: the bench ending (or Ctrl-C) undoes them, and they are undone before we report.
  const faultController = new AbortController();
  const prepared =
    lab && labTools
      ? await labTools.prepareFaults(
          lab,
          flags,
          options.durationMs,
          repeat,
          { ...processIo(), stderr: streams.stderr },
          controller.signal,
        )
      : undefined;
  const onSigint = () => {
    controller.abort();
    faultController.abort();
  };
  process.once("SIGINT", onSigint);
  // The bar redraws itself with terminal control codes: progress that --quiet and --no-color rule out.
  const { quiet, color } = outputMode();
  const bar =
    flags.progress !== false && !quiet && color && streams.stderr.isTTY
      ? progressBar(streams.stderr)
      : undefined;
  out.info(
    `Measuring ${describeRequest(resolved)} ${resolved.stages ? (resolved.stagesOf === "connections" ? `with connections ramping through ${flags.stages} (closed loop)` : `at a rate ramping through ${flags.stages}`) : options.rate ? `at a constant ${options.rate} req/s` : `with ${resolved.connections} connections (closed loop)`} for ${resolved.stages ? `${resolved.durationMs / 1000}s` : (flags.duration ?? "10s")}${options.warmupMs ? ` after a ${flags.warmup} warm-up` : ""}. Ctrl-C stops early and still reports.`,
  );
  let result: BenchResult;
  const lbWatch = lab && labTools ? await labTools.loadLbWatchTarget(lab.target) : undefined;
  try {
    // The same run as the lab's failover step: every fault is undone before anything is reported
    // (or an error leaves this function), then the windows are measured and the SLOs judged.
    ({ result } = await runFaultBench({
      options: { ...options, signal: controller.signal },
      repeat,
      hooks: {
        ...(bar ? { onProgress: bar.update } : {}),
        onRound: (round, of) => {
          bar?.clear();
          out.info(`Round ${round} of ${of}.`);
        },
      },
      ...(prepared ? { prepared } : {}),
      faultSignal: faultController.signal,
      ...(lab && labTools ? { healthCheck: labTools.labHealthCheck(lab.target.spec) } : {}),
      ...(lbWatch ? { lbWatch } : {}),
      log: (m) => {
        bar?.clear();
        out.info(m);
      },
      // Without --json the result text below carries the fault table: print it there only.
      resultTextShowsWindows: !flags.json,
    }));
  } finally {
    bar?.clear();
    process.removeListener("SIGINT", onSigint);
  }

  // The result is printed first: if writing the reports fails, the measurement is not lost.
  out.result(result, formatResultText);
  if (flags.out) {
    const files = await writeReports(result, flags.out);
    out.info(
      `Reports written: ${files.resultJson}, ${files.reportMd}, ${files.reportHtml}, ${files.hlog} (HdrHistogram log), ${files.metrics} (OpenMetrics)`,
    );
  }
  if (result.aborted) return ExitCode.INTERRUPTED;
  if (result.requests.responses === 0) {
    out.warn("Nothing answered: no response arrived in the measured window (see the errors above).");
    return ExitCode.EXTERNAL;
  }
  if (result.sloVerdict === "not-judged") {
    if (!flags.allowUntrustworthy) return ExitCode.CHECK_FAILED;
    return result.slosPassed === false ? ExitCode.CHECK_FAILED : ExitCode.OK;
  }
  return result.slosPassed === false ? ExitCode.CHECK_FAILED : ExitCode.OK;
}

export async function benchCompareCommand(
  a: string,
  b: string,
  flags: BenchCompareFlags,
  streams: Streams = process,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), streams);
  const [ra, rb] = await Promise.all([readResultFile(a), readResultFile(b)]);
  if (flags.format !== undefined && flags.format !== "text" && flags.format !== "md") {
    throw new BenchOptionError(
      `--format "${flags.format}" is not known.`,
      "Pass --format text or --format md.",
    );
  }
  const comparison = compareResults(ra, rb);
  out.result(comparison, flags.format === "md" ? formatCompareMarkdown : formatCompareText);
  const regressed = comparison.rows.filter((r) => r.verdict === "worse");
  if (regressed.length) out.warn(`worse beyond noise: ${regressed.map((r) => r.metric).join(", ")}`);
  return flags.failOnRegression && regressed.length ? ExitCode.CHECK_FAILED : ExitCode.OK;
}

/** `--body` and `--body-file` (autocannon's -b / -i): one or the other, never both. */
async function readBodyFlags(flags: BenchRunFlags): Promise<string | Buffer | undefined> {
  if (flags.body !== undefined && flags.bodyFile !== undefined) {
    throw new BenchOptionError(
      "--body and --body-file were both given.",
      "Pass the body inline with --body TEXT or from a file with --body-file PATH, not both.",
    );
  }
  if (flags.bodyFile !== undefined) return loadBodyFile(flags.bodyFile);
  return flags.body;
}

function parseCount(text: string, what: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(value) || value < 1) {
    throw new BenchOptionError(
      `--${what} "${text}" is not a whole number of at least 1.`,
      `Pass e.g. --${what} 10.`,
    );
  }
  return value;
}

function parseRate(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || !(value > 0)) {
    throw new BenchOptionError(
      `--rate "${text}" is not a positive number of requests per second.`,
      "Pass e.g. --rate 200, or leave --rate out for closed-loop mode.",
    );
  }
  return value;
}

function progressBar(stderr: Streams["stderr"]) {
  const width = Math.max(10, Math.min(30, (stderr.columns ?? 80) - 60));
  return {
    update(p: BenchProgress) {
      const share = Math.min(1, p.elapsedMs / Math.max(1, p.totalMs));
      const filled = Math.round(share * width);
      stderr.write(
        `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(share * 100)}% ${p.phase} ${(p.elapsedMs / 1000).toFixed(1)}s  ${p.currentRps} req/s  ${p.completed} done  ${p.errors} errors\x1b[K`,
      );
    },
    clear() {
      stderr.write("\r\x1b[K");
    },
  };
}
