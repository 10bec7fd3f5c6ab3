import { join } from "node:path";
import type { ResourceHealth, ResourceRecord, StepContext } from "../engine/step.js";
import { httpProbe } from "../verify/http-probe.js";
import type { LabBenchRecord } from "./bench-record.js";

/**
 * What the bench and failover steps share about their last run: both keep one record (id "last") of their
 * own kind, judge "done" the same way (SLOs met and the LB answering now) and report it to `lab status` alike.
 */
export const RUN_RECORD_ID = "last";

/** The step's last run recorded in the lab state, read through its typed parser; undefined when none. */
export function lastRun<R extends LabBenchRecord>(
  ctx: Pick<StepContext, "resources">,
  kind: string,
  read: (record: ResourceRecord) => R,
): R | undefined {
  const record = ctx.resources(kind).find((r) => r.id === RUN_RECORD_ID);
  return record && read(record);
}

/**
 * The intent a run saves before it measures, its report dir named after its kind and start time: an
 * interrupted run still leaves that dir findable (and removable by undo).
 */
export function runningRecord(
  stateDir: string,
  kind: string,
  fields: Pick<LabBenchRecord, "settingsKey" | "url" | "load">,
): LabBenchRecord {
  const startedAt = new Date();
  return {
    status: "running",
    ...fields,
    startedAt: startedAt.toISOString(),
    reportDir: join(stateDir, "reports", `${kind}-${stamp(startedAt)}`),
  };
}

export async function saveRun(
  ctx: StepContext,
  kind: string,
  stepId: string,
  record: LabBenchRecord,
): Promise<void> {
  await ctx.record({
    kind,
    id: RUN_RECORD_ID,
    stepId,
    data: record as unknown as Record<string, unknown>,
  });
}

/**
 * The end of both checks, once the recorded run is finished and made with today's settings: a run that
 * missed its SLOs, or an LB that does not answer now, is run again (`again` says how).
 */
export async function recheckFinishedRun(
  last: LabBenchRecord,
  endpoint: string,
  signal: AbortSignal,
  again: string,
  doneDetail: string,
): Promise<{ done: boolean; detail: string }> {
  if (last.slosPassed === false)
    return { done: false, detail: `the last run missed its SLOs: ${failedSlos(last)}` };
  const live = await answersNow(`${new URL("health", endpoint)}`, signal);
  if (live) return { done: false, detail: `the LB does not answer now (${live}): ${again}` };
  return { done: true, detail: doneDetail };
}

/**
 * For `lab status`: a started run that never finished is unknown; a finished one is healthy when every SLO
 * was met and some request got a good answer, unless `notAVerdict` says the run cannot judge (unknown).
 */
export function runHealth<R extends LabBenchRecord>(
  kind: string,
  last: R | undefined,
  detail: (last: R) => string,
  notAVerdict: (last: R) => boolean = () => false,
): ResourceHealth[] {
  if (!last) return [];
  if (last.status !== "done")
    return [
      { kind, id: RUN_RECORD_ID, health: "unknown", detail: `started ${last.startedAt}, never finished` },
    ];
  return [
    {
      kind,
      id: RUN_RECORD_ID,
      health: notAVerdict(last)
        ? "unknown"
        : last.slosPassed === false || last.summary?.ok === 0
          ? "unhealthy"
          : "healthy",
      detail: detail(last),
    },
  ];
}

export function failedSlos(last: LabBenchRecord): string {
  return (last.slos ?? [])
    .filter((x) => !x.pass)
    .map((x) => `${x.expression} observed ${x.observed}`)
    .join(", ");
}

/** undefined when the LB answers GET url with 200 now; else what went wrong. */
export async function answersNow(url: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    const res = await httpProbe(url, { timeoutMs: 2_000, signal });
    return res.status === 200 ? undefined : `GET ${url} answered HTTP ${res.status}`;
  } catch (error) {
    if (signal.aborted) throw error;
    return `GET ${url} failed: ${(error as Error).message}`;
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
}
