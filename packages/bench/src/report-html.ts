import { escapeXml } from "@labgate/core/text";
import { formatMicros } from "./duration.js";
import { environmentRows } from "./environment.js";
import { resultFaultTable } from "./fault-windows/fault-table.js";
import { describeRun, FAULT_TABLE_TITLE, resultTables, roundsTable } from "./format.js";
import { decodeHistogram, percentileDistribution } from "./histogram.js";
import { JITTER_DEFINITION } from "./recorder.js";
import { barChart, type LineChartOptions, lineChart } from "./svg-charts.js";
import {
  backendShareSeries,
  faultShades,
  type TimedPoint,
  type TimeWindow,
  timeDomain,
  timedPoints,
  timeWindows,
  withBreaks,
} from "./time-axis.js";
import type { BenchResult } from "./types.js";

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:900px;color:#1d232b;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #dde2e8;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 10px;border-bottom:1px solid #eef1f4;text-align:right}
th:first-child,td:first-child{text-align:left}.pass{color:#137333;font-weight:600}.fail{color:#b3261e;font-weight:600}
.verdict{font-size:16px;padding:8px 12px;border-radius:6px;display:inline-block;margin:8px 0}
.verdict.pass{background:#e6f4ea}.verdict.fail{background:#fce8e6}.verdict.none{background:#eef1f4}
.warn{background:#fff4e5;border-left:4px solid #f29900;padding:6px 10px;margin:4px 0}
svg{display:block;margin:6px 0}svg .title{font-weight:600;font-size:13px}svg .tick,svg .legend{font-size:11px;fill:#444}
svg .axis{font-size:11px;fill:#666}svg .muted{font-size:11px;fill:#888}svg .grid{stroke:#eef1f4}svg .frame{stroke:#999}
svg .shade{fill:#f1f3f4}svg .outage{fill:#fce8e6}svg .bar{fill:#1a73e8}.small{color:#666;font-size:12px}
svg .fault{fill:#f9ab00;fill-opacity:.16;stroke:#e37400;stroke-opacity:.7;stroke-dasharray:3 3}svg .shade-caption{font-size:10px;fill:#8a4a00}
`;

/** A single HTML file with inline CSS and SVG: no script, no fonts, no network. */
export function renderHtmlReport(r: BenchResult): string {
  const tables = resultTables(r);
  const slo = r.slos.length
    ? `<div class="verdict ${r.slosPassed ? "pass" : "fail"}">${r.slosPassed ? "All SLOs passed" : "SLOs failed"}</div>`
    : `<div class="verdict none">No SLOs were given</div>`;
  const sloTable = r.slos.length
    ? `<h2>SLOs</h2><table><thead><tr><th>SLO</th><th>actual</th><th>result</th></tr></thead><tbody>${r.slos
        .map(
          (s) =>
            `<tr><td>${escapeXml(s.expression)}</td><td>${escapeXml(s.actualText)}</td><td class="${s.pass ? "pass" : "fail"}">${s.pass ? "pass" : "FAIL"}${s.note ? ` <span class="small">(${escapeXml(s.note)})</span>` : ""}</td></tr>`,
        )
        .join("")}</tbody></table>`
    : "";
  const isBackendTable = (t: { title: string }) => t.title.startsWith("Per backend");
  const otherTables = tables
    .filter((t) => t.title !== "SLOs" && t.title !== FAULT_TABLE_TITLE && !isBackendTable(t))
    .map((t) => `<h2>${escapeXml(t.title)}</h2>${htmlTable(t.header, t.rows)}`)
    .join("");
  const backendTable = tables.find(isBackendTable);
  const axis = timeAxis(r);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>labgate bench report</title><style>${STYLE}</style></head>
<body>
<h1>labgate bench report</h1>
<div class="small">${escapeXml(describeRun(r))}<br>${escapeXml(r.startedAt)} → ${escapeXml(r.finishedAt)} · latency basis: ${escapeXml(r.latencyBasis)}</div>
${slo}
${r.warnings.map((w) => `<div class="warn">${escapeXml(w)}</div>`).join("")}
${sloTable}
<h2>Over time</h2>
<p class="small">Every chart shares one time axis over the whole run${r.rounds?.length ? ` (${r.rounds.length} rounds)` : ""}: grey = warm-up (not counted), red = an interval with no response${r.faultWindows?.length ? ", amber = a fault window (from the fault being applied to it being undone)" : ""}.</p>
${latencyOverTime(axis)}
${throughputOverTime(r, axis)}
${connectionsOverTime(r, axis)}
${backendShareOverTime(r, axis)}
${faultSection(r)}
<h2>Percentile distribution</h2>
${distribution(r)}
${backendSection(r, backendTable)}
${roundsSection(r)}
${otherTables}
${environmentSection(r)}
<h2>Definitions</h2>
<p class="small">${escapeXml(JITTER_DEFINITION)} Throughput is counted over the measured window only (warm-up excluded).
${r.options.mode === "constant-rate" ? "In constant-rate mode latency runs from the time each request was scheduled (coordinated-omission correction, as wrk2); service time runs from the actual send." : "In closed-loop mode latency runs from the actual send; a stalled target slows the senders, so rare stalls are under-represented (coordinated omission). Use --rate to see them."}</p>
</body></html>
`;
}

function htmlTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return `<table><thead><tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((c) => `<td>${escapeXml(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

interface TimeAxis {
  windows: TimeWindow[];
  points: TimedPoint[];
  common: Pick<LineChartOptions, "xDomain" | "shades" | "xLabel" | "yScaleFrom">;
}

/** What every time chart of the report shares: the domain, the warm-up and outage shading, the y-fit to measured time. */
function timeAxis(r: BenchResult): TimeAxis {
  const windows = timeWindows(r);
  const points = timedPoints(r, windows);
  const interval = r.series.intervalMs / 1000;
  const shades: NonNullable<LineChartOptions["shades"]> = windows
    .filter((w) => w.warmupEnd > w.start)
    .map((w) => ({ from: w.start, to: w.warmupEnd, label: "warm-up (not counted)" }));
  for (const p of points) {
    if (p.point.rps === 0 && !p.point.warmup)
      shades.push({
        from: p.point.tSec,
        to: p.point.tSec + Math.min(interval, p.coveredSec),
        label: "no response in this interval",
        className: "outage",
      });
  }
  for (const fault of faultShades(r)) shades.push({ ...fault, className: "fault", caption: true });
  const inWarmup = (x: number) => windows.some((w) => x >= w.start && x < w.warmupEnd);
  return {
    windows,
    points,
    common: {
      xDomain: timeDomain(windows),
      shades,
      xLabel: "seconds since start",
      yScaleFrom: (x) => !inWarmup(x),
    },
  };
}

function latencyOverTime(axis: TimeAxis): string {
  // No response in an interval: no latency there; the line breaks instead of dropping to 0.
  const line = (name: string, color: string, pick: (p: TimedPoint["point"]) => number) => ({
    name,
    color,
    points: withBreaks(axis.points, (p) => (p.point.rps > 0 ? pick(p.point) / 1000 : null)),
  });
  return lineChart({
    ...axis.common,
    title: "Latency per interval (ms)",
    yLabel: "ms",
    series: [
      line("p50", "#1a73e8", (p) => p.p50Us),
      line("p99", "#d93025", (p) => p.p99Us),
      line("max", "#f29900", (p) => p.maxUs),
    ],
  });
}

function throughputOverTime(r: BenchResult, axis: TimeAxis): string {
  const perSec = (p: TimedPoint, count: number) => Math.round((count / p.coveredSec) * 100) / 100;
  const interval = r.series.intervalMs / 1000;
  const series: LineChartOptions["series"] = [
    // rps was counted over a full interval; the last one may have been cut short by the end of the run.
    {
      name: "responses/s",
      color: "#188038",
      points: withBreaks(axis.points, (p) => perSec(p, p.point.rps * interval)),
    },
    {
      name: "errors/s",
      color: "#d93025",
      points: withBreaks(axis.points, (p) => perSec(p, p.point.errors)),
    },
  ];
  if (r.series.target === "rate" && axis.points.some((p) => p.point.target !== undefined)) {
    // Each interval's mean target, at the same x as what was achieved in it.
    series.push({
      name: "target rate",
      color: "#5f6368",
      points: withBreaks(axis.points, (p) => p.point.target ?? null),
      dashed: true,
    });
  } else if (r.rate) {
    // Results written before per-interval targets: the schedule's corners.
    const target: Array<[number, number | null]> = [];
    const start = r.options.rate ?? 0;
    axis.windows.forEach((w, i) => {
      if (i > 0) target.push([w.start, null]);
      if (!r.options.stages) {
        target.push([w.start, r.rate!.targetRps], [w.end, r.rate!.targetRps]);
        return;
      }
      // The schedule's corners: the warm-up at the start rate, then each stage's end at its target.
      target.push([w.start, start], [w.warmupEnd, start]);
      let t = w.warmupEnd;
      for (const stage of r.options.stages) {
        t += stage.durationMs / 1000;
        target.push([Math.min(t, w.end), stage.target]);
      }
    });
    series.push({ name: "target rate", color: "#5f6368", points: target, dashed: true });
  }
  return lineChart({
    ...axis.common,
    title: r.rate ? "Responses per second against the target rate" : "Responses and errors per second",
    yLabel: "per second",
    height: 220,
    series,
  });
}

/** Closed loop: the connections asked for beside those in use (Little's law: responses/s × mean latency). */
function connectionsOverTime(r: BenchResult, axis: TimeAxis): string {
  if (r.series.target !== "connections") return "";
  const interval = r.series.intervalMs / 1000;
  return lineChart({
    ...axis.common,
    title: "Connections: target and in use",
    yLabel: "connections",
    height: 200,
    series: [
      {
        name: "target connections",
        color: "#5f6368",
        points: withBreaks(axis.points, (p) => p.point.target ?? null),
        dashed: true,
      },
      {
        name: "in use (responses/s × mean latency)",
        color: "#1a73e8",
        points: withBreaks(
          axis.points,
          (p) => Math.round(((p.point.rps * interval) / p.coveredSec) * (p.point.meanUs / 1e6) * 100) / 100,
        ),
      },
    ],
  });
}

const BACKEND_COLORS = ["#1a73e8", "#e8710a", "#188038", "#a142f4", "#d01884", "#12b5cb", "#5f6368"];

/** Who served each interval: a backend taken out by a fault drops to 0% and the others take its share. */
function backendShareOverTime(r: BenchResult, axis: TimeAxis): string {
  const shares = backendShareSeries(r, axis.points);
  if (!shares.length) return "";
  return lineChart({
    ...axis.common,
    title: `Share of responses per backend (${r.backends.header}), % per interval`,
    yLabel: "% of responses",
    height: 220,
    series: shares.map((s, i) => ({
      name: s.name,
      color: BACKEND_COLORS[i % BACKEND_COLORS.length] as string,
      points: s.points,
    })),
  });
}

function faultSection(r: BenchResult): string {
  const table = resultFaultTable(r);
  if (!table) return "";
  return `<h2>${FAULT_TABLE_TITLE}</h2><p class="small">${escapeXml(table.note)}</p>${htmlTable(table.header, table.rows)}`;
}

function distribution(r: BenchResult): string {
  // x = log10(1 / (1 − p)): 90% → 1, 99% → 2, 99.9% → 3, the usual HdrHistogram view.
  const toX = (p: number) => Math.log10(1 / Math.max(1e-5, 1 - p / 100));
  const curve = (encoded: string) => {
    try {
      return percentileDistribution(decodeHistogram(encoded)).map(
        (d) => [toX(d.percentile), d.valueUs / 1000] as [number, number],
      );
    } catch {
      return [];
    }
  };
  const series = [
    {
      name: r.latencyBasis === "scheduled-send" ? "latency (scheduled)" : "latency",
      color: "#d93025",
      points: curve(r.histograms.latency),
    },
  ];
  if (r.options.mode === "constant-rate")
    series.push({ name: "service time", color: "#1a73e8", points: curve(r.histograms.serviceTime) });
  return lineChart({
    title: "Latency by percentile (ms)",
    yLabel: "ms",
    xLabel: "percentile",
    series,
    xTicks: [0, 50, 90, 99, 99.9, 99.99, 99.999].map((p) => ({ x: toX(p), label: `${p}%` })),
  });
}

/** One "Per backend" section: the split as bars, then the numbers. */
function backendSection(r: BenchResult, table: { header: string[]; rows: string[][] } | undefined): string {
  const heading = `<h2>Per backend (${escapeXml(r.backends.header)})</h2>`;
  if (!r.backends.entries.length) {
    return `${heading}<p class="small">No response carried the ${escapeXml(r.backends.header)} header.</p>`;
  }
  return `${heading}${barChart(
    "Share of responses",
    r.backends.entries.map((b) => ({
      label: b.name,
      value: b.sharePct,
      text: `${b.sharePct}% · ${b.count} req · p50 ${formatMicros(b.latency.p50Us)} · p99 ${formatMicros(b.latency.p99Us)}`,
    })),
    100,
  )}${barChart(
    "p99 latency per backend (ms)",
    r.backends.entries.map((b) => ({
      label: b.name,
      value: b.latency.p99Us / 1000,
      text: formatMicros(b.latency.p99Us),
    })),
  )}${table ? htmlTable(table.header, table.rows) : ""}`;
}

function roundsSection(r: BenchResult): string {
  if (!r.rounds?.length) return "";
  const rounds = roundsTable(r.rounds);
  return `<h2>Rounds</h2><p class="small">Each round is one sample for <code>labgate bench compare</code>; the tables above pool all rounds.</p>${htmlTable(rounds.header, rounds.rows)}`;
}

function environmentSection(r: BenchResult): string {
  if (!r.environment)
    return `<h2>Environment</h2><p class="small">Not recorded (result written by an older labgate).</p>`;
  return `<h2>Environment</h2>${htmlTable(["", "value"], environmentRows(r.environment))}`;
}
