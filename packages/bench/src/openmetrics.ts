import type { BenchResult, LatencySummary } from "./types.js";

/**
 * An OpenMetrics text snapshot of the summary (https://openmetrics.io, text format 1.0): latency as
 * summaries in seconds, counts as counters, rates as gauges, SLO verdicts as 0/1 gauges, and an
 * info metric naming the run. Ends with "# EOF" as the format requires.
 */
export function renderOpenMetrics(r: BenchResult): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, unit?: string) => {
    out.push(`# TYPE ${name} ${type}`);
    if (unit) out.push(`# UNIT ${name} ${unit}`);
    out.push(`# HELP ${name} ${escapeHelp(help)}`);
  };
  const sample = (name: string, labels: Record<string, string>, value: number) =>
    out.push(`${name}${labelText(labels)} ${number(value)}`);

  family("labgate_bench_run", "info", "The measured run.");
  sample(
    "labgate_bench_run_info",
    {
      url: r.options.url,
      method: r.options.method,
      mode: r.options.mode,
      engine: r.options.engine ?? "undici",
      latency_basis: r.latencyBasis,
      version: r.tool.version,
      started_at: r.startedAt,
    },
    1,
  );

  if (r.latency.count > 0) {
    family(
      "labgate_bench_latency_seconds",
      "summary",
      "Response latency over the measured window.",
      "seconds",
    );
    summary("labgate_bench_latency_seconds", {}, r.latency, sample);
  }
  if (r.options.mode === "constant-rate" && r.serviceTime.count > 0) {
    family("labgate_bench_service_time_seconds", "summary", "Actual send to response.", "seconds");
    summary("labgate_bench_service_time_seconds", {}, r.serviceTime, sample);
  }
  family("labgate_bench_requests", "counter", "Requests sent in the measured window.");
  sample("labgate_bench_requests_total", {}, r.requests.sent);
  family("labgate_bench_responses", "counter", "Responses received, by HTTP status.");
  for (const [code, n] of Object.entries(r.requests.statusCodes))
    sample("labgate_bench_responses_total", { code }, n);
  family("labgate_bench_failures", "counter", "Failed requests (transport errors, timeouts, status >= 400).");
  sample("labgate_bench_failures_total", {}, r.requests.failed);
  family("labgate_bench_timeouts", "counter", "Requests that timed out.");
  sample("labgate_bench_timeouts_total", {}, r.requests.timeouts);
  family(
    "labgate_bench_throughput_requests_per_second",
    "gauge",
    "Responses per second over the measured window.",
  );
  sample("labgate_bench_throughput_requests_per_second", {}, r.throughput.rps);
  family(
    "labgate_bench_throughput_bytes_per_second",
    "gauge",
    "Response bytes per second over the measured window.",
  );
  sample("labgate_bench_throughput_bytes_per_second", {}, r.throughput.bytesPerSec);
  family("labgate_bench_error_ratio", "gauge", "Failed requests over attempts.", "ratio");
  sample("labgate_bench_error_ratio", {}, r.requests.errorRatePct / 100);
  family("labgate_bench_measured_seconds", "gauge", "Length of the measured window.", "seconds");
  sample("labgate_bench_measured_seconds", {}, r.measuredMs / 1000);
  if (r.latency.count > 0) {
    family(
      "labgate_bench_jitter_seconds",
      "gauge",
      "Mean absolute difference of consecutive latencies.",
      "seconds",
    );
    sample("labgate_bench_jitter_seconds", {}, r.jitter.meanAbsDiffUs / 1e6);
  }
  if (r.rate) {
    family("labgate_bench_target_rate_requests_per_second", "gauge", "Requests per second asked for.");
    sample("labgate_bench_target_rate_requests_per_second", {}, r.rate.targetRps);
    family("labgate_bench_send_rate_requests_per_second", "gauge", "Requests per second actually sent.");
    sample("labgate_bench_send_rate_requests_per_second", {}, r.rate.achievedSendRps);
  }
  if (r.backends.entries.length) {
    family(
      "labgate_bench_backend_responses",
      "counter",
      `Responses per backend (${r.backends.header} header).`,
    );
    for (const b of r.backends.entries)
      sample("labgate_bench_backend_responses_total", { backend: b.name }, b.count);
    family("labgate_bench_backend_latency_seconds", "summary", "Latency per backend.", "seconds");
    for (const b of r.backends.entries)
      summary("labgate_bench_backend_latency_seconds", { backend: b.name }, b.latency, sample);
  }
  family(
    "labgate_bench_generator_trustworthy",
    "gauge",
    "1 when the load generator kept up (not saturated, starved or late).",
  );
  sample("labgate_bench_generator_trustworthy", {}, r.generator.trustworthy ? 1 : 0);
  if (r.slos.length) {
    family("labgate_bench_slo_pass", "gauge", "1 when the SLO held, 0 when it did not.");
    for (const s of r.slos) sample("labgate_bench_slo_pass", { slo: s.expression }, s.pass ? 1 : 0);
  }
  out.push("# EOF");
  return `${out.join("\n")}\n`;
}

const QUANTILES: Array<[string, keyof LatencySummary]> = [
  ["0.5", "p50Us"],
  ["0.75", "p75Us"],
  ["0.9", "p90Us"],
  ["0.95", "p95Us"],
  ["0.99", "p99Us"],
  ["0.999", "p999Us"],
];

function summary(
  name: string,
  labels: Record<string, string>,
  l: LatencySummary,
  sample: (name: string, labels: Record<string, string>, value: number) => void,
): void {
  for (const [q, field] of QUANTILES) sample(name, { ...labels, quantile: q }, l[field] / 1e6);
  sample(`${name}_sum`, labels, (l.meanUs * l.count) / 1e6);
  sample(`${name}_count`, labels, l.count);
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (!entries.length) return "";
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function number(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(12)));
}
