import { readFile } from "node:fs/promises";
import { BenchFileError } from "./errors.js";
import { describeRequest } from "./format.js";
import type { BenchResult, LatencySummary, SeriesPoint } from "./types.js";

export interface CompareRow {
  metric: string;
  unit: "us" | "per_s" | "bytes_per_s" | "pct";
  a: number;
  b: number;
  /** (b − a) / a in percent; null when a is 0. */
  changePct: number | null;
  /** Half-width of the ~95% noise band for the difference; null when the runs are too short to tell. */
  noise: number | null;
  /** true: the difference is larger than run-to-run noise; null: not enough data to judge. */
  significant: boolean | null;
  verdict: "better" | "worse" | "within noise" | "unknown";
}

export interface CompareResult {
  a: { url: string; mode: string; startedAt: string; measuredMs: number };
  b: { url: string; mode: string; startedAt: string; measuredMs: number };
  rows: CompareRow[];
  noiseModel: string;
  warnings: string[];
}

export const NOISE_MODEL =
  "Each measured second is one sample of a metric (its per-second rps, p50, p99, …). The noise of a whole-run value is taken as the standard error of its per-second samples (sd/√n); a difference counts as real when |B − A| > 2·√(seA² + seB²) (≈95% if seconds were independent; they are somewhat correlated, so treat borderline cases as noise). Error rates use a two-proportion z-test on the request counts. Fewer than 3 measured seconds per run: not judged.";

const MIN_POINTS = 3;

type SeriesKey = keyof Pick<
  SeriesPoint,
  "p50Us" | "p90Us" | "p95Us" | "p99Us" | "p999Us" | "maxUs" | "meanUs" | "rps" | "bytesPerSec" | "jitterUs"
>;

const ROWS: Array<{
  metric: string;
  unit: CompareRow["unit"];
  value: (r: BenchResult) => number;
  series: SeriesKey;
  higherIsBetter: boolean;
}> = [
  ...(
    [
      ["p50", "p50Us", "p50Us"],
      ["p90", "p90Us", "p90Us"],
      ["p95", "p95Us", "p95Us"],
      ["p99", "p99Us", "p99Us"],
      ["p99.9", "p999Us", "p999Us"],
      ["max", "maxUs", "maxUs"],
      ["mean", "meanUs", "meanUs"],
    ] as Array<[string, keyof LatencySummary, SeriesKey]>
  ).map(([metric, field, series]) => ({
    metric,
    unit: "us" as const,
    value: (r: BenchResult) => r.latency[field],
    series,
    higherIsBetter: false,
  })),
  {
    metric: "jitter",
    unit: "us",
    value: (r) => r.jitter.meanAbsDiffUs,
    series: "jitterUs",
    higherIsBetter: false,
  },
  { metric: "rps", unit: "per_s", value: (r) => r.throughput.rps, series: "rps", higherIsBetter: true },
  {
    metric: "bytes/s",
    unit: "bytes_per_s",
    value: (r) => r.throughput.bytesPerSec,
    series: "bytesPerSec",
    higherIsBetter: true,
  },
];

/** Side-by-side comparison of two runs (A = baseline, B = candidate) with a noise judgement per metric. */
export function compareResults(a: BenchResult, b: BenchResult): CompareResult {
  const pa = measuredPoints(a);
  const pb = measuredPoints(b);
  const rows: CompareRow[] = ROWS.map((row) => {
    const va = row.value(a);
    const vb = row.value(b);
    const noise = noiseOf(
      pa.map((p) => p[row.series]),
      pb.map((p) => p[row.series]),
    );
    return finishRow(row.metric, row.unit, va, vb, noise, row.higherIsBetter);
  });
  rows.push(errorRateRow(a, b));
  const warnings: string[] = [];
  if (a.options.url !== b.options.url)
    warnings.push(`The runs measured different URLs (${a.options.url} vs ${b.options.url}).`);
  const requestA = describeRequest(a.options);
  const requestB = describeRequest(b.options);
  // Same URL, different work: a GET of an info page and a POST to the model are not comparable.
  if (a.options.url === b.options.url && requestA !== requestB)
    warnings.push(`The runs sent different requests (${requestA} vs ${requestB}).`);
  if (a.options.mode !== b.options.mode) {
    warnings.push(
      `The runs used different modes (${a.options.mode} vs ${b.options.mode}); their latencies are not measured the same way.`,
    );
  }
  if (a.options.connections !== b.options.connections || a.options.rate !== b.options.rate) {
    warnings.push(
      "The runs used different load (connections or rate); differences may come from the load, not the target.",
    );
  }
  for (const [name, r] of [
    ["A", a],
    ["B", b],
  ] as const) {
    if (!r.generator.trustworthy)
      warnings.push(`Run ${name} is flagged as not trustworthy (generator saturated or lagging).`);
  }
  return { a: describe(a), b: describe(b), rows, noiseModel: NOISE_MODEL, warnings };
}

function describe(r: BenchResult) {
  return { url: r.options.url, mode: r.options.mode, startedAt: r.startedAt, measuredMs: r.measuredMs };
}

/** Measured, complete intervals only: warm-up and the last (possibly partial) interval are left out. */
function measuredPoints(r: BenchResult): SeriesPoint[] {
  const measured = r.series.points.filter((p) => !p.warmup);
  const endSec = (r.options.warmupMs + r.measuredMs) / 1000;
  return measured.filter((p) => p.tSec + r.series.intervalMs / 1000 <= endSec + 1e-6);
}

function noiseOf(xs: number[], ys: number[]): number | null {
  if (xs.length < MIN_POINTS || ys.length < MIN_POINTS) return null;
  const se2 = (v: number[]) => variance(v) / v.length;
  return 2 * Math.sqrt(se2(xs) + se2(ys));
}

function variance(values: number[]): number {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length - 1);
}

function finishRow(
  metric: string,
  unit: CompareRow["unit"],
  a: number,
  b: number,
  noise: number | null,
  higherIsBetter: boolean,
): CompareRow {
  const diff = b - a;
  const changePct = a !== 0 ? Math.round((diff / a) * 10_000) / 100 : null;
  const significant = noise === null ? null : Math.abs(diff) > noise;
  const verdict =
    significant === null
      ? "unknown"
      : !significant
        ? "within noise"
        : diff > 0 === higherIsBetter
          ? "better"
          : "worse";
  return {
    metric,
    unit,
    a,
    b,
    changePct,
    noise: noise === null ? null : Math.round(noise * 100) / 100,
    significant,
    verdict,
  };
}

function errorRateRow(a: BenchResult, b: BenchResult): CompareRow {
  const na = a.requests.responses + a.requests.timeouts + a.requests.connectionErrors;
  const nb = b.requests.responses + b.requests.timeouts + b.requests.connectionErrors;
  let noise: number | null = null;
  if (na > 0 && nb > 0) {
    const pooled = (a.requests.failed + b.requests.failed) / (na + nb);
    noise = 2 * Math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb)) * 100;
  }
  return finishRow("errors", "pct", a.requests.errorRatePct, b.requests.errorRatePct, noise, false);
}

/** Reads a result.json written by `labgate bench run --out`; anything else is an exit-2 error naming the file. */
export async function readResultFile(path: string): Promise<BenchResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new BenchFileError(
      path,
      `cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
      {
        cause: error,
      },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new BenchFileError(path, `not valid JSON (${(error as Error).message}).`, { cause: error });
  }
  const record = data as Partial<BenchResult> | null;
  if (!record || typeof record !== "object" || record.schema !== "labgate.bench.result/v1") {
    throw new BenchFileError(path, 'not a labgate bench result (missing schema "labgate.bench.result/v1").');
  }
  for (const key of [
    "options",
    "latency",
    "throughput",
    "jitter",
    "series",
    "requests",
    "histograms",
  ] as const) {
    if (!record[key] || typeof record[key] !== "object")
      throw new BenchFileError(path, `the result has no "${key}" section.`);
  }
  const result = record as BenchResult;
  // Results written before request bodies were supported carry no `body`: they sent none.
  result.options.body ??= null;
  return result;
}
