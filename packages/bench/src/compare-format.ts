import { textTable } from "@labgate/core/text";
import type { CompareResult, CompareRow } from "./compare.js";
import { formatBytes } from "./describe-request.js";
import { formatMicros } from "./duration.js";
import { markdownTable } from "./table.js";

export function formatCompareCell(value: number, unit: CompareRow["unit"]): string {
  switch (unit) {
    case "us":
      return formatMicros(Math.round(value));
    case "per_s":
      return `${Math.round(value * 100) / 100}/s`;
    case "bytes_per_s":
      return `${formatBytes(Math.round(value))}/s`;
    case "pct":
      return `${Math.round(value * 100) / 100}%`;
    case "count":
      return String(Math.round(value));
  }
}

export function compareTable(
  c: CompareResult,
  group?: CompareRow["group"],
): { header: string[]; rows: string[][] } {
  return {
    header: ["metric", "A", "B", "change", "noise ±", "p", "verdict", "rounds needed"],
    rows: c.rows
      .filter((row) => group === undefined || row.group === group)
      .map((row) => [
        row.metric,
        formatCompareCell(row.a, row.unit),
        formatCompareCell(row.b, row.unit),
        row.changePct === null ? "n/a" : `${row.changePct > 0 ? "+" : ""}${row.changePct}%`,
        row.noise === null ? "n/a" : formatCompareCell(row.noise, row.unit),
        row.pValue === null ? "n/a" : String(row.pValue),
        row.verdict,
        row.roundsNeeded === null ? "-" : String(row.roundsNeeded),
      ]),
  };
}

function sideLine(name: string, s: CompareResult["a"]): string {
  return `${name}: ${s.url} (${s.mode}, ${s.rounds} round${s.rounds === 1 ? "" : "s"}, ${s.startedAt})`;
}

export function formatCompareText(c: CompareResult): string {
  const run = compareTable(c, "run");
  const backend = compareTable(c, "backend");
  const fault = compareTable(c, "fault");
  return [
    sideLine("A", c.a),
    sideLine("B", c.b),
    "",
    textTable(run.header, run.rows),
    ...(backend.rows.length ? ["", "Per backend", textTable(backend.header, backend.rows)] : []),
    ...(fault.rows.length ? ["", "Fault windows", textTable(fault.header, fault.rows)] : []),
    "",
    `Noise model: ${c.noiseModel}`,
    ...(c.faults ? [`Faults: ${c.faults.note}`] : []),
    ...c.warnings.map((w) => `! ${w}`),
  ].join("\n");
}

/** A pull-request comment: the verdict first, the tables, the caveats. */
export function formatCompareMarkdown(c: CompareResult): string {
  const worse = c.rows.filter((r) => r.verdict === "worse").map((r) => r.metric);
  const better = c.rows.filter((r) => r.verdict === "better").map((r) => r.metric);
  const changed = c.rows.filter((r) => r.verdict === "changed").map((r) => r.metric);
  const judged = c.rows.some((r) => r.significant !== null);
  const headline = !judged
    ? "⚪ **Not judged**: each side needs at least 2 rounds (`labgate bench run --repeat N`)."
    : worse.length
      ? `🔴 **Worse beyond noise:** ${worse.join(", ")}`
      : better.length || changed.length
        ? `🟢 **No regression.**${better.length ? ` Better: ${better.join(", ")}.` : ""}${changed.length ? ` Changed: ${changed.join(", ")}.` : ""}`
        : "⚪ **No change beyond noise.**";
  const run = compareTable(c, "run");
  const backend = compareTable(c, "backend");
  const fault = compareTable(c, "fault");
  const esc = (s: string) => s.replace(/[|`]/g, (ch) => `\\${ch}`);
  return [
    "### labgate bench compare",
    "",
    headline,
    "",
    `- A (baseline): \`${esc(c.a.url)}\` ${c.a.mode}, ${c.a.rounds} round(s), ${c.a.startedAt}`,
    `- B (candidate): \`${esc(c.b.url)}\` ${c.b.mode}, ${c.b.rounds} round(s), ${c.b.startedAt}`,
    "",
    markdownTable(run.header, run.rows),
    ...(backend.rows.length ? ["", "**Per backend**", "", markdownTable(backend.header, backend.rows)] : []),
    ...(fault.rows.length
      ? [
          "",
          "**Fault windows**",
          "",
          markdownTable(fault.header, fault.rows),
          "",
          `_${c.faults?.note ?? ""}_`,
        ]
      : []),
    ...(c.warnings.length ? ["", ...c.warnings.map((w) => `> ⚠ ${w}`)] : []),
    "",
    `<details><summary>Noise model</summary>\n\n${c.noiseModel}\n\n</details>`,
    "",
  ].join("\n");
}
