import { writeReports } from "@labgate/bench";
import type { StepCall } from "../engine/plan-step.js";
import type { LabProvider, LabStep, ResourceHealth, StepContext } from "../engine/step.js";
import { LabSlosNotMetError, StepFailedError } from "../errors.js";
import { describeFault, parseFaults } from "../faults/fault-spec.js";
import { labFaultActuator } from "../faults/lab-faults.js";
import { describeHealthCheck, expectedDetectionMs, labHealthCheck } from "../spec/health-check.js";
import type { LabSpec } from "../spec/lab-spec.js";
import type { LabBenchRecord } from "./bench-record.js";
import { labFailoverRecord } from "./bench-records.js";
import { benchSettings, benchUrl, describeLoad } from "./bench-settings.js";
import { describeBench, finished } from "./bench-step.js";
import { runFaultBench } from "./fault-bench.js";
import {
  type LabBenchRequest,
  labBenchOptions,
  labBenchRequest,
  logBenchOutcome,
  removeBenchReports,
} from "./lab-bench-run.js";
import { benchLabFingerprint } from "./lab-fingerprint.js";
import {
  failedSlos,
  lastRun,
  RUN_RECORD_ID,
  recheckFinishedRun,
  runHealth,
  runningRecord,
  saveRun,
} from "./last-run.js";
import { lbWatchTarget } from "./lb-watch-target.js";
import { assertFaultActionsSupported } from "./provider-fault-actions.js";

export const FAILOVER_STEP_ID = "failover";
const RECORD_KIND = "failover";

/** What the lab state keeps of the last failover check (resource kind "failover", id "last"). */
export interface LabFailoverRecord extends LabBenchRecord {
  faults: string[];
  /** HAProxy's check timing the run was made with, e.g. "inter 1s fall 2 rise 1". */
  healthCheck: string;
  /** Per fault window: what users felt, and detection against inter × fall. */
  windows?: {
    fault: string;
    errors: number;
    errorSharePct: number | null;
    p99Ms: number | null;
    detectionMs: number | null;
    expectedDetectionMs: number | null;
    /** When HAProxy marked the backend DOWN, from the fault's start (its stats, polled every 50 ms). */
    lbDownAfterMs: number | null;
    recoveryMs: number | null;
  }[];
}

/**
 * The failover check after the bench step: the bench through the lab's LB with the spec's `faults:`
 * injected on schedule (the same run as `labgate bench run --lab --fault`), judged against every SLO
 * of the spec including fault_errors, fault_p99, detection and recovery. Read-only for the lab: every
 * fault is undone at its window's end, on Ctrl-C and on error. Refused at plan time when the provider
 * has no action for one of the faults.
 */
export function failoverStep(spec: LabSpec, provider: LabProvider, endpoint: string): LabStep<undefined> {
  const faults = spec.faults ?? [];
  assertFaultActionsSupported(spec, faults);
  const parsedFaults = parseFaults(faults);
  const s = benchSettings(spec);
  // Every SLO of the spec, the fault metrics too: this run has fault windows to judge them on.
  const request = labBenchRequest(s, benchUrl(endpoint), spec.slos);
  const { url } = request;
  const check = labHealthCheck(spec);
  const slos = spec.slos.length ? spec.slos.join(", ") : "none";
  const key = JSON.stringify([url, s.durationMs, s.connections, s.rate ?? null, spec.slos, faults, check]);
  return {
    description: {
      id: FAILOVER_STEP_ID,
      title: `Failover check: ${describeLoad(s)} through ${url} while ${parsedFaults.map(describeFault).join("; ")}, against the SLOs (${slos})`,
      why:
        "Two apps sit behind HAProxy so that one may fail. This runs the bench again while the spec's faults happen " +
        "(each applied at its offset into the measured run and undone at its end, or at once on Ctrl-C or error), " +
        "then measures each fault window: errors, p99 against the baseline before it, detection (fault start → last error) " +
        `and recovery. HAProxy checks every ${check.intervalMs} ms and takes a backend out after ${check.fall} failed checks ` +
        `(${describeHealthCheck(check)}, lb.healthCheck), so a stopped backend's expected detection is about ` +
        `${expectedDetectionMs(check)} ms. Nothing in the lab is changed for good: there is nothing to undo but the report.`,
      calls: [failoverCall(request, faults)],
      diagnostics: [
        `curl -s 'http://<LB address>:${spec.lb.statsPort}/stats;csv'   # every server UP after the check (status column)`,
        "labgate lab status",
      ],
    },
    actions: {
      async check(ctx) {
        const last = lastFailover(ctx);
        if (last?.status !== "done") return { done: false, detail: "no failover check has run yet" };
        if (last.aborted) return { done: false, detail: "the last failover check was interrupted" };
        if (last.settingsKey !== key)
          return {
            done: false,
            detail: "the faults, health checks, bench settings or SLOs changed since the last run",
          };
        return recheckFinishedRun(last, endpoint, ctx.signal, "check again", describeFailover(last));
      },
      async apply(ctx) {
        // Every target and action is checked before anything runs: a refused fault costs no measurement.
        const actuator = await labFaultActuator(
          { spec: ctx.spec, provider, stateDir: ctx.stateDir },
          ctx.log,
          ctx.signal,
          parsedFaults,
        );
        for (const f of parsedFaults) actuator(f);
        const record: LabFailoverRecord = {
          ...runningRecord(ctx.stateDir, RECORD_KIND, { settingsKey: key, url, load: describeLoad(s) }),
          faults,
          healthCheck: describeHealthCheck(check),
        };
        await save(ctx, record);
        ctx.log(`failover: ${request.method} ${url}, ${describeLoad(s)}, faults: ${faults.join("; ")}`);
        const lbWatch = lbWatchTarget(ctx, provider.name);
        const {
          result,
          faultWindows,
          faults: records,
        } = await runFaultBench({
          options: labBenchOptions(
            request,
            ctx.signal,
            await benchLabFingerprint(ctx, provider.lbConfig?.bind(provider)),
          ),
          prepared: { faults: parsedFaults, actuator },
          faultSignal: ctx.signal,
          healthCheck: check,
          ...(lbWatch ? { lbWatch } : {}),
          log: ctx.log,
        });
        const applied = (records ?? []).filter((r) => r.appliedAtMs !== null);
        const reports = await writeReports(result, record.reportDir);
        const ms = (us: number | null) => (us === null ? null : Math.round(us / 10) / 100);
        const done: LabFailoverRecord = {
          ...record,
          ...finished(record, result, reports),
          faults,
          healthCheck: record.healthCheck,
          windows: (faultWindows ?? []).map((w, i) => ({
            fault: w.label,
            errors: w.errors,
            errorSharePct: w.errorSharePct,
            p99Ms: ms(w.p99Us),
            detectionMs: w.detectionMs,
            expectedDetectionMs: applied[i]?.expectedDetectionMs ?? null,
            lbDownAfterMs: applied[i]?.lbDownAfterMs ?? null,
            recoveryMs: w.recoveryMs,
          })),
        };
        await save(ctx, done);
        logBenchOutcome(ctx.log, "failover", result, done, reports);
        ctx.signal.throwIfAborted();
      },
      async verify(ctx) {
        const last = lastFailover(ctx);
        if (last?.status !== "done" || !last.summary) {
          throw new StepFailedError(
            FAILOVER_STEP_ID,
            "No finished failover check is recorded for this lab.",
            {
              hint: "Run `labgate lab up --step failover`.",
            },
          );
        }
        if (last.summary.ok === 0) {
          throw new LabSlosNotMetError(
            `None of the ${last.summary.requests} requests of the failover check got a good answer (HTTP ${JSON.stringify(last.summary.statusCodes)}).`,
            "Check the lab first: `labgate lab status`, then `labgate lab up` checks again.",
            { report: last.reports?.reportHtml },
          );
        }
        if (last.slosPassed === false) {
          throw new LabSlosNotMetError(
            `The lab does not meet its SLOs under faults (${last.faults.join("; ")}): ${failedSlos(last)}.`,
            `Read the fault table in ${last.reports?.reportHtml ?? last.reportDir}; faster health checks (lb.healthCheck) shorten detection. \`labgate lab up\` checks again.`,
            { slos: last.slos, report: last.reports?.reportHtml },
          );
        }
      },
      async undo(ctx) {
        // The faults were undone when their windows ended: only the report this step wrote is removed.
        const last = lastFailover(ctx);
        if (!last) return;
        await removeBenchReports(ctx, last, RECORD_KIND, RUN_RECORD_ID);
      },
    },
  };
}

/** The run as the equivalent `labgate bench run --lab` command line, from the request apply sends. */
function failoverCall(r: LabBenchRequest, faults: readonly string[]): StepCall {
  return {
    kind: "http",
    display:
      `labgate bench run --lab --url ${r.url} -m ${r.method} -H 'Content-Type: ${r.contentType}' --body '<review>' ` +
      `-d ${r.durationMs / 1000}s -w ${r.warmupMs}ms -c ${r.connections}${r.rate !== undefined ? ` --rate ${r.rate}` : ""}` +
      `${faults.map((f) => ` --fault '${f}'`).join("")}${r.slos.map((x) => ` --slo '${x}'`).join("")} --yes --out <state>/reports/failover-<time>`,
  };
}

export function lastFailover(ctx: Pick<StepContext, "resources">): LabFailoverRecord | undefined {
  return lastRun(ctx, RECORD_KIND, labFailoverRecord);
}

/** For `lab status`: the last failover verdict, healthy when every SLO held under the faults. */
export function failoverHealth(ctx: Pick<StepContext, "resources">): ResourceHealth[] {
  return runHealth(
    RECORD_KIND,
    lastFailover(ctx),
    (last) => `${last.aborted ? "INTERRUPTED (not a verdict) " : ""}${describeFailover(last)}`,
    (last) => last.aborted === true,
  );
}

/** "under stop app2 from 1s to 3s (inter 1s fall 2 rise 1): detection 2.0s (expected 2.0s), recovery 1.0s; SLOs met at ..." */
export function describeFailover(last: LabFailoverRecord): string {
  const s = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(1)}s`);
  const windows = (last.windows ?? [])
    .map(
      (w) =>
        `${w.fault}: errors ${w.errors}, last error ${s(w.detectionMs)}` +
        `${w.expectedDetectionMs !== null ? `, HAProxy DOWN after ${s(w.lbDownAfterMs)} (expected ${s(w.expectedDetectionMs)})` : ""}, recovery ${s(w.recoveryMs)}`,
    )
    .join("; ");
  return `under ${last.faults.join("; ")} (${last.healthCheck})${windows ? ` [${windows}]` : ""}: ${describeBench(last)}`;
}

function save(ctx: StepContext, record: LabFailoverRecord): Promise<void> {
  return saveRun(ctx, RECORD_KIND, FAILOVER_STEP_ID, record);
}
