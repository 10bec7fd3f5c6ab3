import { type BenchResult, runBench, writeReports } from "@labgate/bench";
import { LabStateStore } from "../engine/lab-state.js";
import type { StepCall } from "../engine/plan-step.js";
import type { LabStep, ResourceHealth, StepContext } from "../engine/step.js";
import { LabSlosNotMetError, StepFailedError } from "../errors.js";
import type { LabSpec } from "../spec/lab-spec.js";
import type { LabBenchRecord } from "./bench-record.js";
import { labBenchRecord } from "./bench-records.js";
import { BENCH_REQUEST, benchSettings, benchStepSlos, benchUrl, describeLoad } from "./bench-settings.js";
import {
  type LabBenchRequest,
  labBenchOptions,
  labBenchRequest,
  logBenchOutcome,
  removeBenchReports,
} from "./lab-bench-run.js";
import { benchLabFingerprint, type LbConfigReader } from "./lab-fingerprint.js";
import {
  failedSlos,
  lastRun,
  RUN_RECORD_ID,
  recheckFinishedRun,
  runHealth,
  runningRecord,
  saveRun,
} from "./last-run.js";

export const BENCH_STEP_ID = "bench";
const RECORD_KIND = "bench";

/** The request as the equivalent `labgate bench` command line (the body's size instead of the body). */
function benchCall(r: LabBenchRequest): StepCall {
  const bytes = Buffer.byteLength(r.body);
  return {
    kind: "http",
    display:
      `labgate bench ${r.url} -X ${r.method} -H 'Content-Type: ${r.contentType}' --body '<${bytes}-byte review>' ` +
      `-d ${r.durationMs / 1000}s -c ${r.connections}${r.rate !== undefined ? ` --rate ${r.rate}` : ""}` +
      `${r.slos.map((x) => ` --slo '${x}'`).join("")} --out <state>/reports/bench-<time>`,
  };
}

/**
 * The lab's last step: a short benchmark through the exposed LB with the spec's SLOs (POST /predict,
 * the service's real work). Prints observed against each SLO, keeps the summary and the report path
 * in the lab state, and fails (exit 1) when an SLO is missed. Skipped with `bench: {enabled: false}`.
 */
export function benchStep(
  spec: LabSpec,
  endpoint: string,
  readLbConfig?: LbConfigReader,
): LabStep<undefined> {
  const s = benchSettings(spec);
  const request = labBenchRequest(s, benchUrl(endpoint), benchStepSlos(spec));
  const { url } = request;
  const slos = request.slos.length ? request.slos.join(", ") : "none";
  const key = settingsKey(spec, url);
  const bodyBytes = Buffer.byteLength(request.body);
  return {
    description: {
      id: BENCH_STEP_ID,
      title: `Benchmark ${url} for ${describeLoad(s)} against the SLOs (${slos})`,
      why:
        "The lab exists to answer one question with numbers: does the service behind the load balancer meet its SLOs? " +
        `This sends ${BENCH_REQUEST.method} /${BENCH_REQUEST.path} (one sentiment prediction, ${bodyBytes}-byte JSON body) ` +
        `through the exposed LB for ${describeLoad(s)} after a ${s.warmupMs} ms warm-up, then compares what it observed with ` +
        `each SLO. The summary and the report's path are kept in the lab state (\`labgate lab status\` shows them); ` +
        "duration, connections and rate come from `bench:` in the lab spec.",
      calls: [benchCall(request)],
      diagnostics: [
        `curl -si -X ${BENCH_REQUEST.method} -H 'Content-Type: ${BENCH_REQUEST.contentType}' -d '${BENCH_REQUEST.body}' ${url}`,
        "labgate lab status",
        "labgate lab verify",
      ],
    },
    actions: {
      async check(ctx) {
        const last = lastBench(ctx);
        if (last?.status !== "done") return { done: false, detail: "no benchmark has run yet" };
        if (last.settingsKey !== key)
          return { done: false, detail: "the bench settings, SLOs or URL changed since the last run" };
        return recheckFinishedRun(last, endpoint, ctx.signal, "measure again", describeBench(last));
      },
      async apply(ctx) {
        const record = runningRecord(ctx.stateDir, RECORD_KIND, {
          settingsKey: key,
          url,
          load: describeLoad(s),
        });
        await save(ctx, record);
        ctx.log(`bench: ${request.method} ${url}, ${describeLoad(s)}, SLOs: ${slos}`);
        const result = await runBench(
          labBenchOptions(request, ctx.signal, await benchLabFingerprint(ctx, readLbConfig)),
        );
        const reports = await writeReports(result, record.reportDir);
        const done = finished(record, result, reports);
        await save(ctx, done);
        logBenchOutcome(ctx.log, "bench", result, done, reports);
        ctx.signal.throwIfAborted();
      },
      async verify(ctx) {
        const last = lastBench(ctx);
        if (last?.status !== "done" || !last.summary) {
          throw new StepFailedError(BENCH_STEP_ID, "No finished benchmark is recorded for this lab.", {
            hint: "Run `labgate lab up --step bench`.",
          });
        }
        if (last.summary.ok === 0) {
          throw new LabSlosNotMetError(
            `None of the ${last.summary.requests} benchmark requests got a good answer (HTTP ${JSON.stringify(last.summary.statusCodes)}).`,
            `Try one request by hand: curl -si -X ${BENCH_REQUEST.method} -H 'Content-Type: ${BENCH_REQUEST.contentType}' -d '${BENCH_REQUEST.body}' ${url}`,
            { report: last.reports?.reportHtml },
          );
        }
        if (last.slosPassed === false) {
          throw new LabSlosNotMetError(
            `The lab does not meet its SLOs: ${failedSlos(last)}.`,
            `Read the report ${last.reports?.reportHtml ?? last.reportDir}; \`labgate lab up\` measures again.`,
            { slos: last.slos, report: last.reports?.reportHtml },
          );
        }
      },
      async undo(ctx) {
        const last = lastBench(ctx);
        if (!last) return;
        await removeBenchReports(ctx, last, RECORD_KIND, RUN_RECORD_ID);
      },
    },
  };
}

/** The last bench run recorded in the lab state, if any. */
export function lastBench(ctx: Pick<StepContext, "resources">): LabBenchRecord | undefined {
  return lastRun(ctx, RECORD_KIND, labBenchRecord);
}

/** The last bench run recorded in a lab's state directory (for the demo and other callers). */
export async function loadLabBench(
  stateDir: string,
  lab: string,
  provider: string,
): Promise<LabBenchRecord | undefined> {
  const store = new LabStateStore(stateDir);
  await store.load();
  const rec = store
    .snapshot(lab, provider)
    .resources.find((r) => r.kind === RECORD_KIND && r.id === RUN_RECORD_ID);
  return rec && labBenchRecord(rec);
}

/** For `lab status`: the last result, healthy when every SLO was met. */
export function benchHealth(ctx: Pick<StepContext, "resources">): ResourceHealth[] {
  return runHealth(RECORD_KIND, lastBench(ctx), describeBench);
}

export function describeBench(last: LabBenchRecord): string {
  const verdict =
    last.slosPassed === false
      ? `SLOs MISSED (${failedSlos(last)})`
      : last.slosPassed
        ? "SLOs met"
        : "no SLOs";
  const m = last.summary;
  const numbers = m
    ? `p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, ${m.rps} req/s, errors ${m.errorRatePct}%`
    : "no numbers";
  return `${verdict}${untrustedNote(last)} at ${last.finishedAt ?? last.startedAt}: ${numbers} (${last.load}); report ${last.reports?.reportHtml ?? last.reportDir}`;
}

/**
 * The lab keeps its verdict when the generator was busy (a lab step must not fail on the machine's load),
 * but says so: the numbers may describe the load generator rather than the lab.
 */
export function untrustedNote(last: LabBenchRecord): string {
  return last.untrustworthy
    ? ` (but the load generator was not trustworthy: ${last.untrustworthy.join("; ") || "busy"}; measure again on a quieter machine)`
    : "";
}

/** The record of a finished run: verdicts, summary and report paths (bench and failover steps). */
export function finished(
  record: LabBenchRecord,
  result: BenchResult,
  reports: { resultJson: string; reportMd: string; reportHtml: string; hlog: string; metrics: string },
): LabBenchRecord {
  const ms = (us: number) => Math.round(us / 10) / 100;
  return {
    ...record,
    status: "done",
    finishedAt: result.finishedAt,
    reports: {
      resultJson: reports.resultJson,
      reportMd: reports.reportMd,
      reportHtml: reports.reportHtml,
      hlog: reports.hlog,
      metrics: reports.metrics,
    },
    slos: result.slos.map((x) => ({ expression: x.expression, pass: x.pass, observed: x.actualText })),
    slosPassed: result.slosPassed,
    ...(result.generator.trustworthy ? {} : { untrustworthy: result.generator.notes }),
    aborted: result.aborted,
    summary: {
      requests: result.requests.sent,
      ok: result.requests.ok,
      errorRatePct: result.requests.errorRatePct,
      rps: Math.round(result.throughput.rps * 10) / 10,
      p50Ms: ms(result.latency.p50Us),
      p99Ms: ms(result.latency.p99Us),
      statusCodes: result.requests.statusCodes,
    },
  };
}

function save(ctx: StepContext, record: LabBenchRecord): Promise<void> {
  return saveRun(ctx, RECORD_KIND, BENCH_STEP_ID, record);
}

function settingsKey(spec: LabSpec, url: string): string {
  const s = benchSettings(spec);
  return JSON.stringify([url, s.durationMs, s.connections, s.rate ?? null, benchStepSlos(spec)]);
}
