import { readFile } from "node:fs/promises";
import { type FaultFigure, faultFigures, faultSides, matchFaults } from "./compare-faults.js";
import {
  benjaminiHochberg,
  mannWhitneyP,
  median,
  minRoundsForAlpha,
  roundsNeeded,
  variance,
} from "./compare-stats.js";
import { describeRequest } from "./describe-request.js";
import { environmentDifferences } from "./environment.js";
import { BenchFileError } from "./errors.js";
import type { BenchResult, RoundSummary } from "./types.js";

export interface CompareRow {
  metric: string;
  /** "run": the whole run; "backend": one backend's share or latency; "fault": a figure of one fault window. */
  group: "run" | "backend" | "fault";
  unit: "us" | "per_s" | "bytes_per_s" | "pct" | "count";
  /** Median over A's rounds (the run's value when it has one round). */
  a: number;
  b: number;
  /** (b − a) / a in percent; null when a is 0. */
  changePct: number | null;
  /** Each round's value; one value for a single-round run. */
  aRounds: number[];
  bRounds: number[];
  /** Half-width of the ~95% band of the difference from the between-round spread; null with fewer than 2 rounds a side. */
  noise: number | null;
  /** Two-sided Mann-Whitney p-value between the rounds; null with fewer than 2 rounds a side. */
  pValue: number | null;
  /** true: a discovery after Benjamini-Hochberg over every row of this comparison; null: not judged. */
  significant: boolean | null;
  /** Rounds per side needed to tell a change of the observed size (80% power); null when A and B are equal. */
  roundsNeeded: number | null;
  /** "changed": significant for a metric that is neither better nor worse (a backend's share). */
  verdict: "better" | "worse" | "changed" | "within noise" | "unknown";
}

export interface CompareSide {
  url: string;
  mode: string;
  startedAt: string;
  measuredMs: number;
  rounds: number;
}

export interface CompareResult {
  a: CompareSide;
  b: CompareSide;
  rows: CompareRow[];
  noiseModel: string;
  /** False-discovery rate of one comparison (the chance of any false alarm when nothing changed). */
  alpha: number;
  /** Rounds per side with which the rank test can flag a change at all, given the number of rows. */
  minRounds: number;
  warnings: string[];
  /** Present when either run injected faults: which faults were paired, and how their rows are judged. */
  faults?: {
    pairs: Array<{ a: string; b: string; matchedBy: "text" | "action-target" }>;
    note: string;
  };
}

export const FAULT_NOTE =
  "Fault rows compare the figures of the paired fault windows (the same fault as written, else the same action on the same target). Faults run once per run (no rounds), so no p-value is computed and a change is not judged ('unknown'); detection and recovery are rounded up to whole series intervals, so a difference smaller than one interval (shown as noise ±) is 'within noise'.";

export const COMPARE_ALPHA = 0.05;

export const NOISE_MODEL =
  "Each round of `bench run --repeat N` is one sample of every metric; A and B are the medians of their rounds. A change counts only when the rounds of B rank apart from the rounds of A (two-sided Mann-Whitney test, exact without ties) and survives Benjamini-Hochberg across all rows at 5%, so two runs of the same configuration are flagged at most 1 time in 20. The per-second spread inside one run is not used: seconds of one run share its conditions and understate run-to-run noise. With fewer than 2 rounds a side nothing is judged; 'rounds needed' estimates the rounds per side to tell the observed change (80% power).";

interface Metric {
  metric: string;
  group: CompareRow["group"];
  unit: CompareRow["unit"];
  /** Per round; undefined when the round did not measure it. */
  round: (r: RoundSummary) => number | undefined;
  /** The run's value, for runs without rounds. */
  whole: (r: BenchResult) => number | undefined;
  /** null: a change is neither better nor worse. */
  higherIsBetter: boolean | null;
}

const LATENCY_FIELDS = [
  ["p50", "p50Us"],
  ["p90", "p90Us"],
  ["p95", "p95Us"],
  ["p99", "p99Us"],
  ["p99.9", "p999Us"],
  ["max", "maxUs"],
  ["mean", "meanUs"],
] as const;

const RUN_METRICS: Metric[] = [
  ...LATENCY_FIELDS.map(
    ([metric, field]): Metric => ({
      metric,
      group: "run",
      unit: "us",
      round: (r) => (r.latency.count > 0 ? r.latency[field] : undefined),
      whole: (r) => (r.latency.count > 0 ? r.latency[field] : undefined),
      higherIsBetter: false,
    }),
  ),
  {
    metric: "jitter",
    group: "run",
    unit: "us",
    round: (r) => r.jitterUs,
    whole: (r) => r.jitter.meanAbsDiffUs,
    higherIsBetter: false,
  },
  {
    metric: "rps",
    group: "run",
    unit: "per_s",
    round: (r) => r.throughput.rps,
    whole: (r) => r.throughput.rps,
    higherIsBetter: true,
  },
  {
    metric: "bytes/s",
    group: "run",
    unit: "bytes_per_s",
    round: (r) => r.throughput.bytesPerSec,
    whole: (r) => r.throughput.bytesPerSec,
    higherIsBetter: true,
  },
  {
    metric: "errors",
    group: "run",
    unit: "pct",
    round: (r) => r.errorRatePct,
    whole: (r) => r.requests.errorRatePct,
    higherIsBetter: false,
  },
];

function backendMetrics(name: string): Metric[] {
  const entry = (r: BenchResult) => r.backends.entries.find((e) => e.name === name);
  const inRound = (r: RoundSummary) => r.backends.find((e) => e.name === name);
  return [
    {
      metric: `${name} share`,
      group: "backend",
      unit: "pct",
      round: (r) => inRound(r)?.sharePct ?? 0,
      whole: (r) => entry(r)?.sharePct ?? 0,
      higherIsBetter: null,
    },
    {
      metric: `${name} p50`,
      group: "backend",
      unit: "us",
      round: (r) => inRound(r)?.p50Us,
      whole: (r) => entry(r)?.latency.p50Us,
      higherIsBetter: false,
    },
    {
      metric: `${name} p99`,
      group: "backend",
      unit: "us",
      round: (r) => inRound(r)?.p99Us,
      whole: (r) => entry(r)?.latency.p99Us,
      higherIsBetter: false,
    },
  ];
}

/** Side-by-side comparison of two runs (A = baseline, B = candidate), judged against the spread between their rounds. */
export function compareResults(a: BenchResult, b: BenchResult, alpha = COMPARE_ALPHA): CompareResult {
  const names = [...new Set([...a.backends.entries, ...b.backends.entries].map((e) => e.name))].sort();
  const metrics = [...RUN_METRICS, ...names.flatMap(backendMetrics)];
  const drafts = metrics.flatMap((m) => {
    const xs = valuesOf(a, m);
    const ys = valuesOf(b, m);
    return xs.length && ys.length ? [{ m, xs, ys }] : [];
  });
  const judged = drafts.filter((d) => d.xs.length >= 2 && d.ys.length >= 2);
  const pValues = judged.map((d) => mannWhitneyP(d.xs, d.ys));
  const discoveries = benjaminiHochberg(pValues, alpha);
  const perRowAlpha = alpha / Math.max(1, drafts.length);
  const minRounds = minRoundsForAlpha(perRowAlpha);
  const rows = drafts.map((d): CompareRow => {
    const k = judged.indexOf(d);
    const va = median(d.xs);
    const vb = median(d.ys);
    const diff = vb - va;
    const significant = k < 0 ? null : discoveries[k]!;
    const verdict: CompareRow["verdict"] =
      significant === null
        ? "unknown"
        : !significant
          ? "within noise"
          : d.m.higherIsBetter === null
            ? "changed"
            : diff > 0 === d.m.higherIsBetter
              ? "better"
              : "worse";
    return {
      metric: d.m.metric,
      group: d.m.group,
      unit: d.m.unit,
      a: va,
      b: vb,
      changePct: va !== 0 ? Math.round((diff / va) * 10_000) / 100 : null,
      aRounds: d.xs,
      bRounds: d.ys,
      noise:
        k < 0 ? null : round2(2 * Math.sqrt(variance(d.xs) / d.xs.length + variance(d.ys) / d.ys.length)),
      pValue: k < 0 ? null : Number(pValues[k]!.toPrecision(3)),
      significant,
      roundsNeeded: k < 0 ? (diff === 0 ? null : minRounds) : roundsNeeded(d.xs, d.ys, perRowAlpha),
      verdict,
    };
  });
  const faults = matchFaults(faultSides(a), faultSides(b));
  const faultRows = faults.pairs.flatMap(faultFigures).map(faultRow);
  return {
    a: describe(a),
    b: describe(b),
    rows: [...rows, ...faultRows],
    noiseModel: NOISE_MODEL,
    alpha,
    minRounds,
    warnings: [
      ...comparabilityWarnings(a, b),
      ...faults.warnings,
      ...recoveryWarnings(faults.pairs),
      ...roundWarnings(a, b, minRounds, Boolean(faultSides(a) || faultSides(b))),
    ],
    ...(faults.pairs.length || faults.warnings.length
      ? {
          faults: {
            pairs: faults.pairs.map((p) => ({ a: p.a.text, b: p.b.text, matchedBy: p.matchedBy })),
            note: FAULT_NOTE,
          },
        }
      : {}),
  };
}

/** A fault figure as a compare row: one value a side, so never tested; within noise only below the series resolution. */
function faultRow(f: FaultFigure): CompareRow {
  const diff = f.b - f.a;
  return {
    metric: f.metric,
    group: "fault",
    unit: f.unit,
    a: f.a,
    b: f.b,
    changePct: f.a !== 0 ? Math.round((diff / f.a) * 10_000) / 100 : null,
    aRounds: [f.a],
    bRounds: [f.b],
    noise: f.resolution,
    pValue: null,
    significant: null,
    roundsNeeded: null,
    verdict: f.resolution !== null && Math.abs(diff) < f.resolution ? "within noise" : "unknown",
  };
}

/** A window that never recovered has no recovery figure to compare: say so instead of dropping the row silently. */
function recoveryWarnings(pairs: ReturnType<typeof matchFaults>["pairs"]): string[] {
  return pairs.flatMap((p) => {
    const never = [
      ...(p.a.window.recoveryMs === null ? [`A ('${p.a.text}')`] : []),
      ...(p.b.window.recoveryMs === null ? [`B ('${p.b.text}')`] : []),
    ];
    return never.length
      ? [`No recovery to compare: ${never.join(" and ")} did not recover before the run ended.`]
      : [];
  });
}

function valuesOf(r: BenchResult, m: Metric): number[] {
  const values = r.rounds?.length ? r.rounds.map(m.round) : [m.whole(r)];
  return values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
}

function describe(r: BenchResult): CompareSide {
  return {
    url: r.options.url,
    mode: r.options.mode,
    startedAt: r.startedAt,
    measuredMs: r.measuredMs,
    rounds: r.rounds?.length ?? 1,
  };
}

function comparabilityWarnings(a: BenchResult, b: BenchResult): string[] {
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
  warnings.push(...environmentDifferences(a.environment, b.environment));
  for (const [name, r] of [
    ["A", a],
    ["B", b],
  ] as const) {
    const bad = r.rounds?.filter((x) => !x.trustworthy).map((x) => x.round) ?? [];
    if (bad.length)
      warnings.push(
        `Run ${name}: round(s) ${bad.join(", ")} flagged as not trustworthy (generator saturated or lagging).`,
      );
    else if (!r.generator.trustworthy)
      warnings.push(`Run ${name} is flagged as not trustworthy (generator saturated or lagging).`);
  }
  return warnings;
}

function roundWarnings(a: BenchResult, b: BenchResult, minRounds: number, faults: boolean): string[] {
  const na = a.rounds?.length ?? 1;
  const nb = b.rounds?.length ?? 1;
  // --fault does not combine with --repeat: advising more rounds would send the user to an error.
  if ((na < 2 || nb < 2) && faults)
    return [
      `Not judged: A has ${na} round(s), B has ${nb}; a run with faults has one round (--fault does not combine with --repeat), so the figures are shown side by side, not tested.`,
    ];
  if (na < 2 || nb < 2)
    return [
      `Not judged: A has ${na} round(s), B has ${nb}. One run cannot show its own run-to-run noise; rerun both with --repeat ${minRounds} (or more).`,
    ];
  if (Math.min(na, nb) < minRounds)
    return [
      `With ${Math.min(na, nb)} round(s) a side the rank test cannot flag any change among this many metrics; use --repeat ${minRounds} or more.`,
    ];
  return [];
}

const round2 = (v: number) => Math.round(v * 100) / 100;

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
