import { textTable } from "@labgate/core/text";
import { describeRequest, formatBytes } from "./describe-request.js";
import { formatMicros, formatMs, round } from "./duration.js";
import { resultFaultTable } from "./fault-windows/fault-table.js";

export { describeRequest, formatBytes };

import type { BenchResult, LatencySummary, RoundSummary } from "./types.js";

type Table = { title: string; header: string[]; rows: string[][] };

/** The title of the fault table in every report (report.html gives it its own section). */
export const FAULT_TABLE_TITLE = "Fault windows";

export function describeRun(r: BenchResult): string {
  const o = r.options;
  const load = o.stages
    ? o.stagesOf === "connections"
      ? `closed loop, connections ramping from ${o.startConnections ?? 0} through ${o.stages.map((s) => `${formatMs(s.durationMs)}→${s.target}`).join(", ")} (up to ${o.connections})`
      : `ramping arrival rate from ${o.rate ?? 0} req/s through ${o.stages.map((s) => `${formatMs(s.durationMs)}→${s.target}/s`).join(", ")} over up to ${o.connections} connections`
    : o.mode === "constant-rate"
      ? `constant rate ${o.rate} req/s over up to ${o.connections} connections`
      : `closed loop, ${o.connections} connections`;
  return `${describeRequest(o)} — ${load}, ${formatMs(o.durationMs)} measured${o.warmupMs ? ` after ${formatMs(o.warmupMs)} warm-up` : ""}`;
}

const latencyCells = (l: LatencySummary) =>
  [l.p50Us, l.p90Us, l.p95Us, l.p99Us, l.p999Us, l.maxUs, l.meanUs, l.stddevUs].map(formatMicros);
export const LATENCY_HEADER = ["p50", "p90", "p95", "p99", "p99.9", "max", "mean", "stddev"];

/** One row per `--repeat` round, shared by report.md and report.html. */
export function roundsTable(rounds: RoundSummary[]): { header: string[]; rows: string[][] } {
  return {
    header: ["round", "started", "p50", "p99", "requests/s", "errors", "trustworthy"],
    rows: rounds.map((x) => [
      String(x.round),
      x.startedAt,
      formatMicros(x.latency.p50Us),
      formatMicros(x.latency.p99Us),
      String(x.throughput.rps),
      `${x.errorRatePct}%`,
      x.trustworthy ? "yes" : "NO",
    ]),
  };
}

/** The tables shared by the terminal output and report.md. */
export function resultTables(r: BenchResult): Table[] {
  const tables: Table[] = [];
  // No response, no latency: a row of zeros would read as an infinitely fast target.
  const latencyRows: string[][] = [];
  if (r.latency.count > 0)
    latencyRows.push([
      r.latencyBasis === "scheduled-send" ? "latency (from scheduled send)" : "latency",
      ...latencyCells(r.latency),
    ]);
  if (r.options.mode === "constant-rate" && r.serviceTime.count > 0)
    latencyRows.push(["service time (from actual send)", ...latencyCells(r.serviceTime)]);
  if (latencyRows.length)
    tables.push({ title: "Latency", header: ["", ...LATENCY_HEADER], rows: latencyRows });

  const q = r.requests;
  const throughputRows = [
    ["requests/s", String(r.throughput.rps)],
    ["bytes/s", formatBytes(r.throughput.bytesPerSec)],
    ["responses", String(q.responses)],
    ["failed", `${q.failed} (${q.errorRatePct}%)`],
    ["timeouts", String(q.timeouts)],
    ["connection errors", String(q.connectionErrors)],
    ["non-2xx", String(q.non2xx)],
    [
      "status codes",
      Object.entries(q.statusCodes)
        .map(([c, n]) => `${c}×${n}`)
        .join(" ") || "-",
    ],
  ];
  if (Object.keys(q.errorsByCode).length) {
    throughputRows.push([
      "errors by code",
      Object.entries(q.errorsByCode)
        .map(([c, n]) => `${c}×${n}`)
        .join(" "),
    ]);
  }
  if (r.rate) {
    throughputRows.push(
      ["target rate", `${r.rate.targetRps}/s`],
      ["achieved send rate", `${r.rate.achievedSendRps}/s`],
      ["late sends", `${r.rate.lateSends} (${r.rate.latePct}%, >${formatMicros(r.rate.lateThresholdUs)})`],
      [
        "send lag p50/p99/max",
        [r.rate.sendLagUs.p50, r.rate.sendLagUs.p99, r.rate.sendLagUs.max].map(formatMicros).join(" / "),
      ],
      ...(r.rate.generatorLagUs
        ? [
            [
              "generator lag p50/p99/max",
              [r.rate.generatorLagUs.p50, r.rate.generatorLagUs.p99, r.rate.generatorLagUs.max]
                .map(formatMicros)
                .join(" / "),
            ],
          ]
        : []),
    );
  }
  tables.push({
    title: `Throughput over ${round(r.measuredMs / 1000, 2)}s measured`,
    header: ["", "value"],
    rows: throughputRows,
  });

  if (r.latency.count > 0)
    tables.push({
      title: "Jitter",
      header: ["", "value"],
      rows: [
        ["mean |Δ| consecutive latencies", formatMicros(r.jitter.meanAbsDiffUs)],
        ["stddev", formatMicros(r.jitter.stddevUs)],
        ["p99 − p50 spread", formatMicros(r.jitter.spreadP99P50Us)],
      ],
    });

  if (r.backends.entries.length) {
    tables.push({
      title: `Per backend (${r.backends.header})`,
      header: ["backend", "count", "share", "p50", "p90", "p99", "max"],
      rows: r.backends.entries.map((b) => [
        b.name,
        String(b.count),
        `${b.sharePct}%`,
        ...[b.latency.p50Us, b.latency.p90Us, b.latency.p99Us, b.latency.maxUs].map(formatMicros),
      ]),
    });
  }

  const faults = resultFaultTable(r);
  if (faults) tables.push({ title: FAULT_TABLE_TITLE, header: faults.header, rows: faults.rows });

  tables.push({
    title: "Generator",
    header: ["", "value"],
    rows: [
      ...(r.generator.engine ? [["engine", `${r.generator.engine}, ${r.generator.workers} thread(s)`]] : []),
      ["CPU (one core = 100%)", `${r.generator.cpuPercent}%`],
      ["event loop busy", `${r.generator.eventLoopUtilizationPercent}%`],
      ["event-loop delay p99", `${r.generator.eventLoopDelayP99Ms}ms`],
      ...(r.generator.starvedPercent !== undefined && r.generator.starvedPercent !== null
        ? [["waited for a CPU", `${r.generator.starvedPercent}%`]]
        : []),
      ["trustworthy", r.generator.trustworthy ? "yes" : "NO"],
    ],
  });

  if (r.slos.length) {
    tables.push({
      title: "SLOs",
      header: ["SLO", "actual", "result"],
      rows: r.slos.map((s) => [
        s.expression,
        s.actualText,
        `${s.pass ? "pass" : "FAIL"}${s.note ? ` (${s.note})` : ""}`,
      ]),
    });
  }
  return tables;
}

/** What was measured, without the SLO verdicts: the run, its tables and its warnings. */
export function formatMeasurementText(r: BenchResult): string {
  return runText(r, false).join("\n").trimEnd();
}

export function formatResultText(r: BenchResult): string {
  const parts = runText(r, true);
  if (r.slosPassed !== null && r.sloVerdict === "not-judged")
    parts.push(
      "SLOs NOT JUDGED: the generator was not trustworthy (see the warnings above); rerun on a quieter machine, or pass --allow-untrustworthy to accept the verdicts as they are.",
    );
  else if (r.slosPassed !== null)
    parts.push(
      r.slosPassed
        ? "All SLOs passed."
        : `SLOs FAILED: ${r.slos
            .filter((s) => !s.pass)
            .map((s) => s.expression)
            .join(", ")}`,
    );
  return parts.join("\n").trimEnd();
}

function runText(r: BenchResult, withSlos: boolean): string[] {
  const parts = [describeRun(r), ""];
  for (const t of resultTables(r))
    if (withSlos || t.title !== "SLOs") parts.push(t.title, textTable(t.header, t.rows), "");
  for (const w of r.warnings) parts.push(`! ${w}`);
  return parts;
}
