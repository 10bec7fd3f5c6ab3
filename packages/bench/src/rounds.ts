import { BenchOptionError, BenchSetupError } from "./errors.js";
import { encodeHistogram, mergeEncodedHistograms, summarize } from "./histogram.js";
import { runBench } from "./run-bench.js";
import { applySlos } from "./slo.js";
import type {
  BackendStats,
  BenchHooks,
  BenchOptions,
  BenchResult,
  RequestCounts,
  RoundSummary,
  Slo,
} from "./types.js";

export const MAX_REPEAT = 100;

/**
 * `bench run --repeat N`: N rounds one after the other, each with its own warm-up. The result pools
 * every round (histograms merged exactly, counts summed, one time axis) and keeps each round's
 * summary in `rounds`, which is what `compare` judges a change against.
 */
export async function runRounds(
  input: BenchOptions & { slos?: readonly Slo[] },
  repeat: number,
  hooks: BenchHooks & { onRound?: (round: number, of: number) => void } = {},
): Promise<BenchResult> {
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) {
    throw new BenchOptionError(
      `--repeat ${repeat} is not a whole number from 1 to ${MAX_REPEAT}.`,
      "Pass e.g. --repeat 5: compare needs 5 or more rounds per side to tell a change from noise.",
    );
  }
  if (repeat === 1) return runBench(input, hooks);
  const results: BenchResult[] = [];
  for (let i = 0; i < repeat; i++) {
    hooks.onRound?.(i + 1, repeat);
    // SLOs are judged once, on the pooled result.
    const result = await runBench({ ...input, slos: [] }, hooks);
    results.push(result);
    if (result.aborted || input.signal?.aborted) break;
  }
  return applySlos(mergeRounds(results), input.slos ?? []);
}

/** Summary of one round: the values `compare` ranks. */
export function summarizeRound(r: BenchResult, round: number, offsetSec: number): RoundSummary {
  return {
    round,
    startedAt: r.startedAt,
    offsetSec,
    warmupMs: r.options.warmupMs,
    measuredMs: r.measuredMs,
    latency: r.latency,
    throughput: { rps: r.throughput.rps, bytesPerSec: r.throughput.bytesPerSec },
    jitterUs: r.jitter.meanAbsDiffUs,
    errorRatePct: r.requests.errorRatePct,
    responses: r.requests.responses,
    failed: r.requests.failed,
    trustworthy: r.generator.trustworthy,
    backends: r.backends.entries.map((b) => ({
      name: b.name,
      count: b.count,
      sharePct: b.sharePct,
      p50Us: b.latency.p50Us,
      p99Us: b.latency.p99Us,
    })),
  };
}

/** Pools rounds of the same configuration into one result that keeps each round's summary. */
export function mergeRounds(results: readonly BenchResult[]): BenchResult {
  const first = results[0];
  if (!first)
    throw new BenchSetupError(
      "BENCH_ROUNDS_EMPTY",
      "mergeRounds was given no round results: there is nothing to merge.",
      "Pass the results of one or more rounds: runRounds (`labgate bench run --repeat N`) returns one per round.",
    );
  const last = results[results.length - 1]!;
  const t0 = Date.parse(first.startedAt);
  const offsets = results.map((r) => Math.max(0, (Date.parse(r.startedAt) - t0) / 1000));
  const measuredMs = sum(results.map((r) => r.measuredMs));
  const byTime = (pick: (r: BenchResult) => number) =>
    measuredMs > 0 ? sum(results.map((r) => pick(r) * r.measuredMs)) / measuredMs : 0;

  const latencyH = mergeEncodedHistograms(results.map((r) => r.histograms.latency));
  const serviceH = mergeEncodedHistograms(results.map((r) => r.histograms.serviceTime));
  const latency = summarize(latencyH);
  const requests = mergeCounts(results.map((r) => r.requests));
  const backendNames = [...new Set(results.flatMap((r) => Object.keys(r.histograms.perBackend)))].sort();
  const perBackend: Record<string, string> = {};
  const entries: BackendStats[] = backendNames.map((name) => {
    const h = mergeEncodedHistograms(results.flatMap((r) => r.histograms.perBackend[name] ?? []));
    perBackend[name] = encodeHistogram(h);
    const count = sum(results.map((r) => r.backends.entries.find((e) => e.name === name)?.count ?? 0));
    return {
      name,
      count,
      sharePct: requests.responses > 0 ? round2((count / requests.responses) * 100) : 0,
      latency: summarize(h),
    };
  });
  const jitterN = sum(results.map((r) => r.latency.count));
  const gens = results.map((r) => r.generator);
  const starved = gens.map((g) => g.starvedPercent).filter((v): v is number => v !== null && v !== undefined);

  return {
    ...first,
    finishedAt: last.finishedAt,
    measuredMs,
    requests,
    throughput: {
      rps: round2(byTime((r) => r.throughput.rps)),
      bytesPerSec: Math.round(byTime((r) => r.throughput.bytesPerSec)),
      bytes: sum(results.map((r) => r.throughput.bytes)),
    },
    latency,
    serviceTime: summarize(serviceH),
    jitter: {
      ...first.jitter,
      meanAbsDiffUs:
        jitterN > 0 ? round1(sum(results.map((r) => r.jitter.meanAbsDiffUs * r.latency.count)) / jitterN) : 0,
      stddevUs: latency.stddevUs,
      spreadP99P50Us: latency.p99Us - latency.p50Us,
    },
    rate: first.rate
      ? {
          ...first.rate,
          achievedSendRps: round2(byTime((r) => r.rate?.achievedSendRps ?? 0)),
          lateSends: sum(results.map((r) => r.rate?.lateSends ?? 0)),
          latePct:
            requests.sent > 0
              ? round2((sum(results.map((r) => r.rate?.lateSends ?? 0)) / requests.sent) * 100)
              : 0,
          // Lag percentiles cannot be pooled from summaries: the worst round's are kept.
          sendLagUs: worstLag(results.map((r) => r.rate?.sendLagUs)),
          generatorLagUs: worstLag(results.map((r) => r.rate?.generatorLagUs)),
        }
      : null,
    backends: {
      header: first.backends.header,
      entries,
      minSharePct: entries.length ? Math.min(...entries.map((e) => e.sharePct)) : null,
      unlabeled: sum(results.map((r) => r.backends.unlabeled)),
    },
    series: {
      intervalMs: Math.max(...results.map((r) => r.series.intervalMs)),
      points: results.flatMap((r, i) =>
        r.series.points.map((p) => ({ ...p, tSec: round3(p.tSec + offsets[i]!) })),
      ),
      // Every round ran the same load: its points keep their own targets.
      ...(first.series.target ? { target: first.series.target } : {}),
    },
    generator: {
      ...first.generator,
      cpuPercent: Math.max(...gens.map((g) => g.cpuPercent)),
      eventLoopUtilizationPercent: Math.max(...gens.map((g) => g.eventLoopUtilizationPercent)),
      eventLoopDelayP99Ms: Math.max(...gens.map((g) => g.eventLoopDelayP99Ms)),
      starvedPercent: starved.length ? Math.max(...starved) : null,
      threads: gens.flatMap((g) => g.threads),
      saturated: gens.some((g) => g.saturated),
      trustworthy: gens.every((g) => g.trustworthy),
      notes: prefixed(results.map((r) => r.generator.notes)),
    },
    histograms: {
      ...first.histograms,
      latency: encodeHistogram(latencyH),
      serviceTime: encodeHistogram(serviceH),
      perBackend,
      rounds: results.map((r) => r.histograms.latency),
    },
    aborted: results.some((r) => r.aborted),
    warnings: prefixed(results.map((r) => r.warnings)),
    rounds: results.map((r, i) => summarizeRound(r, i + 1, offsets[i]!)),
  };
}

function mergeCounts(all: readonly RequestCounts[]): RequestCounts {
  const add = (pick: (c: RequestCounts) => number) => sum(all.map(pick));
  const merge = (pick: (c: RequestCounts) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const c of all) for (const [k, n] of Object.entries(pick(c))) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  const responses = add((c) => c.responses);
  const timeouts = add((c) => c.timeouts);
  const connectionErrors = add((c) => c.connectionErrors);
  const failed = add((c) => c.failed);
  const attempts = responses + timeouts + connectionErrors;
  return {
    sent: add((c) => c.sent),
    responses,
    ok: add((c) => c.ok),
    failed,
    errorRatePct: attempts > 0 ? round2((failed / attempts) * 100) : 0,
    timeouts,
    connectionErrors,
    errorsByCode: merge((c) => c.errorsByCode),
    statusCodes: merge((c) => c.statusCodes),
    non2xx: add((c) => c.non2xx),
    unfinished: add((c) => c.unfinished),
  };
}

/** Each distinct message once, naming the rounds it came from. */
function prefixed(perRound: readonly string[][]): string[] {
  const rounds = new Map<string, number[]>();
  perRound.forEach((messages, i) => {
    for (const m of messages) rounds.set(m, [...(rounds.get(m) ?? []), i + 1]);
  });
  return [...rounds].map(([m, r]) =>
    r.length === perRound.length
      ? `Every round: ${m}`
      : `Round${r.length > 1 ? "s" : ""} ${r.join(", ")}: ${m}`,
  );
}

function worstLag(lags: ReadonlyArray<{ p50: number; p99: number; max: number } | undefined>) {
  const present = lags.filter((l): l is { p50: number; p99: number; max: number } => l !== undefined);
  return {
    p50: Math.max(0, ...present.map((l) => l.p50)),
    p99: Math.max(0, ...present.map((l) => l.p99)),
    max: Math.max(0, ...present.map((l) => l.max)),
  };
}

const sum = (values: readonly number[]) => values.reduce((s, v) => s + v, 0);
const round1 = (v: number) => Math.round(v * 10) / 10;
const round2 = (v: number) => Math.round(v * 100) / 100;
const round3 = (v: number) => Math.round(v * 1000) / 1000;
