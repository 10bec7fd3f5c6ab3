import { copyFile, mkdir } from "node:fs/promises";
import type { LabBenchRecord } from "../bench-step/bench-record.js";
import { BENCH_REQUEST } from "../bench-step/bench-settings.js";
import { demoReportFiles } from "./demo-phases.js";
import type { DemoBench } from "./demo-result.js";

/**
 * The bench step keeps its report in the lab's state dir, which teardown removes: the demo copies
 * it to `dir` and says so when the answers measured were not the model's (a 4xx/5xx is fast and wrong).
 */
export async function keepReport(
  last: LabBenchRecord,
  dir: string,
  warn: (message: string) => void,
): Promise<DemoBench> {
  const from = last.reports ?? { resultJson: "", reportMd: "", reportHtml: "" };
  const reports = demoReportFiles(dir);
  await mkdir(dir, { recursive: true });
  await copyFile(from.resultJson, reports.resultJson);
  await copyFile(from.reportMd, reports.reportMd);
  await copyFile(from.reportHtml, reports.reportHtml);
  const statusCodes = last.summary?.statusCodes ?? {};
  const notOk = Object.entries(statusCodes).filter(([code]) => code !== "200");
  if (notOk.length)
    warn(
      `not every answer was the model's: HTTP ${notOk.map(([code, n]) => `${code}×${n}`).join(", ")} of ${Object.values(statusCodes).reduce((a, b) => a + b, 0)} responses. The latencies are not the model's; run \`labgate demo --keep\` and try one request by hand: curl -si -X ${BENCH_REQUEST.method} -H 'Content-Type: ${BENCH_REQUEST.contentType}' -d '${BENCH_REQUEST.body}' ${last.url}`,
    );
  return {
    available: true,
    url: last.url,
    request: {
      method: BENCH_REQUEST.method,
      bodyBytes: Buffer.byteLength(BENCH_REQUEST.body),
      contentType: BENCH_REQUEST.contentType,
    },
    statusCodes,
    slos: (last.slos ?? []).map((x) => x.expression),
    slosPassed: last.slosPassed ?? null,
    ...(last.untrustworthy ? { untrustworthy: last.untrustworthy } : {}),
    aborted: Boolean(last.aborted),
    reports,
  };
}
