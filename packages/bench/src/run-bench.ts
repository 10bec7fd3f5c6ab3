import { loadAutocannon } from "./autocannon.js";
import { runClosedLoop } from "./closed-loop.js";
import { runConstantRate } from "./constant-rate.js";
import { startCpuMonitor } from "./cpu-monitor.js";
import { Engine } from "./engine-core.js";
import type { SlotsFor } from "./engine-create.js";
import { type EngineThreads, engineClient, engineSpec, startEngineThreads } from "./engine-threads.js";
import { captureEnvironment } from "./environment.js";
import type { Histogram } from "./histogram.js";
import { LATE_THRESHOLD_MS } from "./late-threshold.js";
import { publicOptions, resolveOptions } from "./options.js";
import { Recorder } from "./recorder.js";
import { impossibleSeries } from "./series-check.js";
import { withTargets } from "./series-target.js";
import { applySlos } from "./slo.js";
import { RampSchedule } from "./stages.js";
import { startThreadStats, type ThreadStats } from "./thread-stats.js";
import { judgeGenerator } from "./trust.js";
import type { BenchHooks, BenchOptions, BenchResult, RateReport, Slo } from "./types.js";
import { VERSION } from "./version.js";

const PROGRESS_INTERVAL_MS = 250;

/**
 * Runs one measurement and returns the full result. Never throws because the target misbehaves:
 * refused connections, resets and timeouts are counted; only bad options throw (exit 2).
 * SLOs given in `slos` are evaluated into the result.
 */
export async function runBench(
  input: BenchOptions & { slos?: readonly Slo[] },
  hooks: BenchHooks = {},
): Promise<BenchResult> {
  const options = resolveOptions(input);
  // Threads start (and load their code) before the clock does: the run begins when all can send.
  // One worker runs on this thread: no second isolate, no start-up wait.
  const threads =
    options.engine !== "autocannon" && options.workers > 1
      ? await startEngineThreads(options, options.workers)
      : null;
  try {
    // Loaded before the clock starts (a slow import must not eat the window), and only when this
    // thread runs the engine: runs on engine threads keep the client out of this thread's memory.
    const ownEngine =
      options.engine !== "autocannon" && !threads
        ? await (await import("./engine-create.js")).loadClient(engineClient(options))
        : null;
    // The reference engine's closed loop is autocannon itself (its constant rate is node:http).
    if (options.engine === "autocannon" && options.mode === "closed-loop") loadAutocannon();
    return await measure(options, input, hooks, threads, ownEngine);
  } finally {
    await threads?.close();
  }
}

async function measure(
  options: ReturnType<typeof resolveOptions>,
  input: BenchOptions & { slos?: readonly Slo[] },
  hooks: BenchHooks,
  threads: EngineThreads | null,
  ownEngine: SlotsFor | null,
): Promise<BenchResult> {
  const startedAt = new Date();
  const cpu = startCpuMonitor();
  const mainThread = threads ? null : startThreadStats();
  const runStartMs = performance.now();
  const warmupEndMs = runStartMs + options.warmupMs;
  const endMs = warmupEndMs + options.durationMs;
  const recorder = new Recorder({
    runStartMs,
    warmupEndMs,
    separateServiceTime: options.mode === "constant-rate",
  });
  const totalMs = options.warmupMs + options.durationMs;

  const progress = setInterval(() => {
    const now = performance.now();
    // With engine threads the series advances only as their intervals arrive (merged in time order).
    if (!threads) recorder.advance(now);
    hooks.onProgress?.({
      phase: now < warmupEndMs ? "warmup" : now < endMs ? "measure" : "drain",
      elapsedMs: Math.min(totalMs, Math.round(now - runStartMs)),
      totalMs,
      completed: recorder.completedAll,
      errors: recorder.failedAll,
      currentRps: recorder.lastCompleteRps(),
    });
  }, PROGRESS_INTERVAL_MS);

  let aborted = false;
  let abortedAtMs: number | undefined;
  let threadStats: ThreadStats[] = [];
  const onAbort = () => {
    abortedAtMs ??= performance.now();
  };
  input.signal?.addEventListener("abort", onAbort, { once: true });
  if (input.signal?.aborted) onAbort();
  try {
    const window = { endMs, signal: input.signal, runStartMs };
    if (threads) {
      const outcome = await threads.run(recorder, { runStartMs, warmupEndMs, endMs, signal: input.signal });
      aborted = outcome.aborted;
      threadStats = outcome.threads;
    } else if (ownEngine) {
      const spec = engineSpec(options, { runStartMs, warmupEndMs, endMs }, 0, 1);
      aborted = (await new Engine(spec, recorder, ownEngine(spec)).run(input.signal)).aborted;
    } else {
      const outcome =
        options.mode === "constant-rate"
          ? await runConstantRate(options, recorder, window)
          : await runClosedLoop(options, recorder, window);
      aborted = outcome.aborted;
    }
  } finally {
    clearInterval(progress);
    input.signal?.removeEventListener("abort", onAbort);
  }
  if (mainThread) threadStats = [mainThread.stop()];
  const stoppedMs = Math.min(abortedAtMs ?? endMs, endMs);
  const processCpu = cpu.stop();
  // A run that was not interrupted measured exactly its window (closed loop drops later responses).
  const measuredMs = aborted ? Math.max(0, Math.round(stoppedMs - warmupEndMs)) : options.durationMs;
  const recorded = recorder.finish(measuredMs);

  let rate: RateReport | null = null;
  if (options.rate !== null) {
    rate = {
      // Ramped: the mean of the target over the measured window (what the schedule asked for).
      targetRps: options.stages
        ? Math.round(
            (new RampSchedule(options.rate, options.stages).totalArrivals / (options.durationMs / 1000)) *
              100,
          ) / 100
        : options.rate,
      achievedSendRps: measuredMs > 0 ? Math.round((recorder.sent / (measuredMs / 1000)) * 100) / 100 : 0,
      lateSends: recorder.lateSends,
      latePct: recorder.sent > 0 ? Math.round((recorder.lateSends / recorder.sent) * 10_000) / 100 : 0,
      lateThresholdUs: LATE_THRESHOLD_MS * 1000,
      sendLagUs: lagSummary(recorder.sendLag),
      generatorLagUs: lagSummary(recorder.generatorLag),
    };
  }
  const generator = judgeGenerator({
    engine: options.engine,
    mode: options.mode,
    processCpuPercent: processCpu.cpuPercent,
    threads: threadStats,
    generatorLagUs: rate && recorder.generatorLag.totalCount > 0 ? rate.generatorLagUs : null,
  });
  // A series that cannot have happened means the run's own bookkeeping failed: never a trusted verdict.
  const impossible = impossibleSeries(options, recorded.series);
  if (impossible.length) {
    generator.trustworthy = false;
    generator.notes.push(...impossible);
  }

  const result: BenchResult = {
    schema: "labgate.bench.result/v1",
    tool: { name: "labgate-bench", version: VERSION },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: publicOptions(options),
    measuredMs,
    latencyBasis: options.mode === "constant-rate" ? "scheduled-send" : "actual-send",
    requests: recorded.requests,
    throughput: recorded.throughput,
    latency: recorded.latency,
    serviceTime: recorded.serviceTime,
    jitter: recorded.jitter,
    rate,
    backends: { header: options.backendHeader, ...recorded.backends },
    series: withTargets(options, recorded.series),
    generator,
    histograms: {
      encoding: "hdr-histogram-compressed-base64",
      unit: "us",
      latency: recorded.encoded.latency,
      serviceTime: recorded.encoded.serviceTime,
      perBackend: recorded.encoded.perBackend,
    },
    slos: [],
    slosPassed: null,
    sloVerdict: "none",
    aborted,
    warnings: [],
    environment: captureEnvironment(options, input),
  };
  result.warnings = collectWarnings(result);
  return applySlos(result, input.slos ?? []);
}

function lagSummary(h: Histogram): { p50: number; p99: number; max: number } {
  return {
    p50: h.totalCount ? h.getValueAtPercentile(50) : 0,
    p99: h.totalCount ? h.getValueAtPercentile(99) : 0,
    max: h.totalCount ? h.maxValue : 0,
  };
}

function collectWarnings(r: BenchResult): string[] {
  const warnings = [...r.generator.notes];
  if (
    r.options.engine === "autocannon" &&
    r.options.mode === "closed-loop" &&
    r.options.timeoutMs % 1000 !== 0
  ) {
    warnings.push(
      `Closed loop (autocannon) times out in whole seconds: --timeout ${r.options.timeoutMs}ms was rounded up to ${Math.ceil(r.options.timeoutMs / 1000)}s.`,
    );
  }
  if (
    r.options.engine === "autocannon" &&
    r.options.mode === "closed-loop" &&
    r.options.url.startsWith("https:") &&
    !r.options.insecure
  ) {
    warnings.push(
      "Closed loop (autocannon) does not verify the target's TLS certificate; use --rate for a verified connection.",
    );
  }
  if (r.aborted) warnings.push("The run was interrupted; numbers cover only the part that ran.");
  if (r.requests.responses === 0) {
    warnings.push("No response was received in the measured window: is the target up and the URL right?");
  }
  if (r.requests.failed > 0) {
    const codes = Object.entries(r.requests.errorsByCode)
      .map(([code, n]) => `${code}×${n}`)
      .join(", ");
    warnings.push(
      `${r.requests.failed} request(s) failed (${r.requests.errorRatePct}%)${codes ? `: ${codes}` : ""}${r.requests.non2xx ? `; non-2xx responses: ${r.requests.non2xx}` : ""}.`,
    );
  }
  if (r.rate) {
    if (r.rate.achievedSendRps < r.rate.targetRps * 0.95) {
      warnings.push(
        `Only ${r.rate.achievedSendRps} req/s were sent of the ${r.rate.targetRps} asked for; the latency figures still count the waiting from the scheduled time.`,
      );
    }
    if (r.rate.latePct > 5) {
      warnings.push(
        `${r.rate.latePct}% of sends were more than ${r.rate.lateThresholdUs / 1000}ms late (all ${r.options.connections} connections busy or the generator lagging); consider more --connections.`,
      );
    }
  }
  if (r.backends.entries.length > 0 && r.backends.unlabeled > 0) {
    warnings.push(
      `${r.backends.unlabeled} response(s) carried no ${r.backends.header} header and are not in the per-backend split.`,
    );
  }
  return warnings;
}
