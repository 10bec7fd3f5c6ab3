import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { formatMicros } from "./duration.js";
import { BenchFileError, SloSyntaxError } from "./errors.js";
import { FAULT_SLO_READERS, faultWindowsOf } from "./fault-windows/fault-windows.js";
import type { BenchResult, LatencySummary, Slo, SloOperator, SloResult } from "./types.js";

type Kind = "latency" | "rate" | "ratio" | "share" | "count";

interface MetricDef {
  kind: Kind;
  describe: string;
  /** Canonical value from a result; null when the run has no data for it. */
  read: (r: BenchResult) => number | null;
}

const latency = (pick: (l: LatencySummary) => number, from: "latency" | "serviceTime" = "latency") => {
  return (r: BenchResult) => (r[from].count > 0 ? pick(r[from]) : null);
};
const attempts = (r: BenchResult) => r.requests.responses + r.requests.timeouts + r.requests.connectionErrors;

const LATENCY_FIELDS: Record<string, (l: LatencySummary) => number> = {
  p50: (l) => l.p50Us,
  p75: (l) => l.p75Us,
  p90: (l) => l.p90Us,
  p95: (l) => l.p95Us,
  p99: (l) => l.p99Us,
  "p99.9": (l) => l.p999Us,
  p999: (l) => l.p999Us,
  max: (l) => l.maxUs,
  min: (l) => l.minUs,
  mean: (l) => l.meanUs,
  avg: (l) => l.meanUs,
  stddev: (l) => l.stddevUs,
};

const METRICS: Record<string, MetricDef> = {
  ...Object.fromEntries(
    Object.entries(LATENCY_FIELDS).flatMap(([name, pick]) => [
      [name, { kind: "latency", describe: `latency ${name}`, read: latency(pick) }],
      [
        `service_${name}`,
        { kind: "latency", describe: `service time ${name}`, read: latency(pick, "serviceTime") },
      ],
    ]),
  ),
  jitter: {
    kind: "latency",
    describe: "jitter (mean absolute difference of consecutive latencies)",
    read: (r) => (r.latency.count > 1 ? r.jitter.meanAbsDiffUs : null),
  },
  spread: {
    kind: "latency",
    describe: "p99 − p50 spread",
    read: (r) => (r.latency.count > 0 ? r.jitter.spreadP99P50Us : null),
  },
  rps: { kind: "rate", describe: "responses per second", read: exactRps },
  errors: {
    kind: "ratio",
    describe: "failed requests (transport errors, timeouts, 4xx/5xx)",
    read: (r) => r.requests.failed,
  },
  timeouts: { kind: "ratio", describe: "timed-out requests", read: (r) => r.requests.timeouts },
  non2xx: { kind: "ratio", describe: "responses with a non-2xx status", read: (r) => r.requests.non2xx },
  late_sends: {
    kind: "ratio",
    describe: "late sends (constant rate)",
    read: (r) => (r.rate ? r.rate.lateSends : null),
  },
  send_lag_p50: {
    kind: "latency",
    describe: "send lag p50 (scheduled → actual send, constant rate)",
    read: (r) => (r.rate && r.requests.sent > 0 ? r.rate.sendLagUs.p50 : null),
  },
  send_lag_p99: {
    kind: "latency",
    describe: "send lag p99 (scheduled → actual send, constant rate)",
    read: (r) => (r.rate && r.requests.sent > 0 ? r.rate.sendLagUs.p99 : null),
  },
  generator_lag_p50: {
    kind: "latency",
    describe: "generator lag p50 (scheduled → noticed due by the generator, constant rate)",
    read: (r) => (r.rate?.generatorLagUs && r.requests.sent > 0 ? r.rate.generatorLagUs.p50 : null),
  },
  generator_lag_p99: {
    kind: "latency",
    describe: "generator lag p99 (scheduled → noticed due by the generator, constant rate)",
    read: (r) => (r.rate?.generatorLagUs && r.requests.sent > 0 ? r.rate.generatorLagUs.p99 : null),
  },
  backend_share: {
    kind: "share",
    describe: "smallest share of responses served by one backend",
    read: exactMinShare,
  },
  backends: {
    kind: "count",
    describe: "number of distinct backends seen",
    read: (r) => r.backends.entries.length,
  },
  // Over the fault windows of `bench run --lab --fault` (the worst window counts).
  fault_errors: {
    kind: "ratio",
    describe: "failed requests inside fault windows",
    read: FAULT_SLO_READERS.fault_errors,
  },
  fault_p99: {
    kind: "latency",
    describe: "worst p99 inside a fault window",
    read: FAULT_SLO_READERS.fault_p99,
  },
  detection: { kind: "latency", describe: "fault start → last error", read: FAULT_SLO_READERS.detection },
  recovery: {
    kind: "latency",
    describe: "fault end → no errors and p99 within 20% of baseline",
    read: FAULT_SLO_READERS.recovery,
  },
};

// Verdicts are taken on exact values: the rounded figures in the result (2 decimals) could turn
// 1 failure in 100 000 into "0%" and pass errors<=0%, or 39.996% into "40%" and pass backend_share>=40%.
function exactRps(r: BenchResult): number {
  return r.measuredMs > 0 ? r.requests.responses / (r.measuredMs / 1000) : r.throughput.rps;
}

function exactMinShare(r: BenchResult): number | null {
  const entries = r.backends.entries;
  if (entries.length === 0) return null;
  if (!(r.requests.responses > 0)) return r.backends.minSharePct;
  return (Math.min(...entries.map((e) => e.count)) / r.requests.responses) * 100;
}

/** Denominator for ratio metrics written with %. */
const RATIO_BASE: Record<string, (r: BenchResult) => number> = {
  errors: attempts,
  timeouts: attempts,
  non2xx: (r) => r.requests.responses,
  late_sends: (r) => r.requests.sent,
  fault_errors: (r) => FAULT_SLO_READERS.fault_attempts(r) ?? 0,
};

const LATENCY_UNITS: Record<string, number> = { us: 1, µs: 1, ms: 1000, s: 1_000_000 };
const SLO_RE =
  /^([a-z][a-z0-9_.]*|p\(\s*[0-9.]+\s*\))\s*(<=|>=|<|>)\s*(-?[0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([a-zµ%/]*)$/i;

export const SLO_METRICS = Object.keys(METRICS);
export const FAULT_METRICS: ReadonlySet<string> = new Set([
  "fault_errors",
  "fault_p99",
  "detection",
  "recovery",
]);

/**
 * Parses one SLO expression: `<metric><op><value>[unit]`, e.g. `p99<250ms`, `rps>=500`,
 * `errors<1%`, `jitter<5ms`, `backend_share>=40%`. Latency without a unit is milliseconds (as in
 * k6); k6's `p(95)` spelling is accepted. Any problem names the expression.
 */
export function parseSlo(expression: string): Slo {
  const text = typeof expression === "string" ? expression.trim() : "";
  if (!text) throw new SloSyntaxError(text, "the expression is empty.");
  const match = SLO_RE.exec(text);
  if (!match) {
    const hasOp = /[<>]/.test(text);
    throw new SloSyntaxError(
      text,
      hasOp
        ? "it does not have the shape <metric><op><number>[unit]."
        : "it has no comparison operator (use <, <=, > or >=).",
    );
  }
  const [, rawMetric = "", op = "", rawValue = "", rawUnit = ""] = match;
  const k6 = /^p\(\s*([0-9.]+)\s*\)$/i.exec(rawMetric);
  const metric = k6 ? `p${k6[1]}` : rawMetric.toLowerCase();
  const def = METRICS[metric];
  if (!def) {
    throw new SloSyntaxError(text, `unknown metric "${rawMetric}".`, {
      hint: `Known metrics: ${SLO_METRICS.join(", ")}.`,
    });
  }
  const value = Number(rawValue);
  if (!Number.isFinite(value) || value < 0) {
    throw new SloSyntaxError(text, `"${rawValue}" is not a non-negative number.`);
  }
  const unit = rawUnit.toLowerCase();
  const operator = op as SloOperator;
  const base = { expression: text, metric, operator };
  switch (def.kind) {
    case "latency": {
      const factor = unit === "" ? 1000 : LATENCY_UNITS[unit];
      if (factor === undefined) {
        throw new SloSyntaxError(text, `"${rawUnit}" is not a time unit for ${metric}.`, {
          hint: "Latency SLOs take us, ms or s, e.g. p99<250ms (no unit means ms).",
        });
      }
      return { ...base, threshold: value * factor, unit: "us" };
    }
    case "rate":
      if (unit !== "" && unit !== "/s" && unit !== "rps") {
        throw new SloSyntaxError(text, `"${rawUnit}" is not a unit for ${metric}.`, {
          hint: "Throughput SLOs are plain requests per second, e.g. rps>=500.",
        });
      }
      return { ...base, threshold: value, unit: "per_s" };
    case "ratio":
      if (unit === "%") return { ...base, threshold: percent(text, value), unit: "pct" };
      if (unit === "") {
        if (!Number.isInteger(value)) {
          throw new SloSyntaxError(text, `${metric} without % is a count and must be a whole number.`, {
            hint: `Write ${metric}<1% for a rate or ${metric}<10 for a count.`,
          });
        }
        return { ...base, threshold: value, unit: "count" };
      }
      throw new SloSyntaxError(text, `"${rawUnit}" is not a unit for ${metric}.`, {
        hint: `Write ${metric}<1% for a rate or ${metric}<10 for a count.`,
      });
    case "share":
      if (unit !== "%") {
        throw new SloSyntaxError(text, `${metric} needs a percentage, e.g. ${metric}>=40%.`);
      }
      return { ...base, threshold: percent(text, value), unit: "pct" };
    case "count":
      if (unit !== "" || !Number.isInteger(value)) {
        throw new SloSyntaxError(text, `${metric} is a whole number without unit, e.g. ${metric}>=2.`);
      }
      return { ...base, threshold: value, unit: "count" };
  }
}

function percent(text: string, value: number): number {
  if (value > 100) throw new SloSyntaxError(text, `${value}% is more than 100%.`);
  return value;
}

export function parseSlos(expressions: readonly string[]): Slo[] {
  return expressions.map(parseSlo);
}

/**
 * Reads SLOs from a JSON or YAML file: a list of expressions, or `{ slos: [...] }`.
 * k6-style `{ thresholds: { any: ["p(95)<200"] } }` is accepted too.
 */
export async function loadSloFile(path: string): Promise<Slo[]> {
  const data = await readSloDocument(path);
  const list = extractExpressions(data);
  if (!list) {
    throw new BenchFileError(
      path,
      "the SLO file must contain a list of SLO expressions (or `slos:` with a list).",
      {
        hint: 'Example (YAML):\nslos:\n  - "p99<250ms"\n  - "errors<1%"',
      },
    );
  }
  return list.map((item) => {
    if (typeof item !== "string") {
      throw new SloSyntaxError(
        JSON.stringify(item),
        `entries in ${path} must be strings such as "p99<250ms".`,
      );
    }
    try {
      return parseSlo(item);
    } catch (error) {
      if (!(error instanceof SloSyntaxError)) throw error;
      throw new SloSyntaxError(error.expression, error.problem, {
        source: path,
        ...(error.hint ? { hint: error.hint } : {}),
        cause: error,
      });
    }
  });
}

/**
 * `faults:` beside `slos:` in an SLO file, as written: undefined when the file has none. Only the lab
 * knows its backends and the run's length, so the faults are checked where the lab is (`bench run --lab`).
 */
export async function loadSloFileFaults(path: string): Promise<unknown> {
  const data = await readSloDocument(path);
  return data && typeof data === "object" && !Array.isArray(data)
    ? (data as Record<string, unknown>)["faults"]
    : undefined;
}

async function readSloDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new BenchFileError(path, `cannot read the SLO file (${(error as Error).message}).`, {
      cause: error,
      hint: "Check the path given to --slo-file.",
    });
  }
  try {
    return /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new BenchFileError(
      path,
      `the SLO file is not valid ${/\.json$/i.test(path) ? "JSON" : "YAML"}: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'Write a list of expressions, e.g. ["p99<250ms", "errors<1%"] (JSON) or "slos:\\n  - p99<250ms" (YAML).',
      },
    );
  }
}

function extractExpressions(data: unknown): unknown[] | undefined {
  if (Array.isArray(data)) return data;
  if (data && typeof data === "object") {
    const record = data as Record<string, unknown>;
    if (Array.isArray(record["slos"])) return record["slos"];
    const thresholds = record["thresholds"];
    if (thresholds && typeof thresholds === "object") {
      return Object.values(thresholds as Record<string, unknown>).flatMap((v) =>
        Array.isArray(v) ? v : [v],
      );
    }
  }
  return undefined;
}

/** Judges a result against SLOs. A metric the run has no data for (no responses, no backend header) fails. */
export function evaluateSlos(result: BenchResult, slos: readonly Slo[]): SloResult[] {
  return slos.map((slo) => {
    const def = METRICS[slo.metric];
    let actual = def ? def.read(result) : null;
    let note: string | undefined;
    if (actual !== null && slo.unit === "pct" && RATIO_BASE[slo.metric]) {
      const base = RATIO_BASE[slo.metric]!(result);
      actual = base > 0 ? (actual / base) * 100 : null;
    }
    if (actual === null && FAULT_METRICS.has(slo.metric)) {
      note = !faultWindowsOf(result)
        ? "no fault ran in this run (bench run --lab --fault ...)"
        : slo.metric === "recovery"
          ? "a fault window never recovered (no error-free second with p99 within 20% of baseline) before the run ended"
          : "no responses were measured inside the fault windows";
    } else if (actual === null) {
      note =
        slo.metric === "backend_share"
          ? `no response carried the ${result.options.backendHeader} header`
          : slo.metric === "late_sends"
            ? "late sends are only measured in constant-rate mode (--rate)"
            : "no responses were measured";
    } else if (slo.metric === "backend_share" && result.backends.entries.length === 1) {
      // A backend that is down has no share at all and is not in the list: say so beside the verdict.
      note = `only one backend (${result.backends.entries[0]!.name}) answered; add backends>=N to require the others`;
    }
    const pass = actual !== null && compare(actual, slo.operator, slo.threshold);
    return {
      expression: slo.expression,
      metric: slo.metric,
      operator: slo.operator,
      threshold: slo.threshold,
      unit: slo.unit,
      actual,
      actualText: actualText(actual, slo),
      pass,
      ...(note ? { note } : {}),
    };
  });
}

/** Returns the result with its SLO verdicts filled in. */
export function applySlos(result: BenchResult, slos: readonly Slo[]): BenchResult {
  const verdicts = evaluateSlos(result, slos);
  const passed = verdicts.length === 0 ? null : verdicts.every((v) => v.pass);
  return {
    ...result,
    slos: verdicts,
    slosPassed: passed,
    // A generator that was saturated, starved or late may have produced the numbers itself.
    sloVerdict:
      passed === null ? "none" : !result.generator.trustworthy ? "not-judged" : passed ? "passed" : "failed",
  };
}

function compare(actual: number, op: SloOperator, threshold: number): boolean {
  switch (op) {
    case "<":
      return actual < threshold;
    case "<=":
      return actual <= threshold;
    case ">":
      return actual > threshold;
    case ">=":
      return actual >= threshold;
  }
}

export function formatValue(value: number | null, unit: Slo["unit"]): string {
  if (value === null) return "n/a";
  switch (unit) {
    case "us":
      return formatMicros(value);
    case "per_s":
      return `${round2(value)}/s`;
    case "pct":
      return `${round2(value)}%`;
    case "count":
      return String(value);
  }
}

/** The actual value as shown; full precision when rounding would make it look equal to the threshold. */
function actualText(actual: number | null, slo: Slo): string {
  const text = formatValue(actual, slo.unit);
  if (actual === null || actual === slo.threshold || text !== formatValue(slo.threshold, slo.unit)) {
    return text;
  }
  const precise = String(Number(actual.toPrecision(8)));
  return slo.unit === "us" ? `${precise}µs` : slo.unit === "per_s" ? `${precise}/s` : `${precise}%`;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
