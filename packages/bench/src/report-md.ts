import { environmentRows } from "./environment.js";
import { resultFaultTable } from "./fault-windows/fault-table.js";
import { describeRun, FAULT_TABLE_TITLE, resultTables, roundsTable } from "./format.js";
import { JITTER_DEFINITION } from "./recorder.js";
import { seriesTable } from "./series-table.js";
import { markdownTable } from "./table.js";
import type { BenchResult } from "./types.js";

export function renderMarkdownReport(r: BenchResult): string {
  const lines = [
    "# labgate bench report",
    "",
    describeRun(r),
    "",
    `Started ${r.startedAt}, finished ${r.finishedAt}.`,
    "",
  ];
  if (r.slosPassed !== null) lines.push(r.slosPassed ? "**All SLOs passed.**" : "**SLOs FAILED.**", "");
  for (const w of r.warnings) lines.push(`> ⚠ ${w}`, "");
  for (const t of resultTables(r)) {
    lines.push(
      `## ${t.title}`,
      "",
      markdownTable(
        t.header.map((h) => h || " "),
        t.rows,
      ),
      "",
    );
    if (t.title === FAULT_TABLE_TITLE) lines.push(resultFaultTable(r)?.note ?? "", "");
  }
  const overTime = seriesTable(r);
  if (overTime) {
    lines.push("## Over time", "", markdownTable(overTime.header, overTime.rows), "", overTime.note, "");
  }
  if (r.rounds?.length) {
    const rounds = roundsTable(r.rounds);
    lines.push("## Rounds", "", markdownTable(rounds.header, rounds.rows), "");
  }
  if (r.environment)
    lines.push("## Environment", "", markdownTable([" ", "value"], environmentRows(r.environment)), "");
  lines.push("## Definitions", "", `- ${JITTER_DEFINITION}`);
  lines.push(
    "- Throughput (requests/s, bytes/s) is counted over the measured window; warm-up requests are sent but not counted.",
  );
  lines.push(
    r.options.mode === "constant-rate"
      ? "- Latency is measured from each request's scheduled send time (coordinated-omission correction, as in wrk2); service time from the actual send."
      : "- Closed loop: latency is measured from the actual send. A stalled target slows the senders, so rare stalls are under-represented; use --rate for an open-loop view.",
  );
  lines.push(
    "- Failed = transport errors + timeouts + responses with status ≥ 400; latency histograms include every HTTP response.",
    "",
  );
  return lines.join("\n");
}
