/**
 * The record the bench and failover steps keep of their last run, and what is read back from it. Its own
 * module: the step and the run that writes it both need it, and neither imports the other for it.
 */

/** What the lab state keeps of the last bench run (resource kind "bench", id "last"). */
export interface LabBenchRecord {
  status: "running" | "done";
  /** Same key → same settings, SLOs and URL as the spec now has. */
  settingsKey: string;
  url: string;
  load: string;
  startedAt: string;
  finishedAt?: string;
  reportDir: string;
  reports?: { resultJson: string; reportMd: string; reportHtml: string; hlog?: string; metrics?: string };
  slos?: { expression: string; pass: boolean; observed: string }[];
  slosPassed?: boolean | null;
  /** Why the generator's own numbers may not describe the lab (bench's trust notes); absent when trustworthy. */
  untrustworthy?: string[];
  aborted?: boolean;
  summary?: {
    requests: number;
    ok: number;
    errorRatePct: number;
    rps: number;
    p50Ms: number;
    p99Ms: number;
    statusCodes: Record<string, number>;
  };
}

/** One line per SLO: "  PASS  p99<250ms  observed 12.3 ms". */
export function observedVsSlo(last: LabBenchRecord): string[] {
  if (!last.slos?.length) return ["  (no SLOs in the lab spec: nothing to compare)"];
  return [
    "observed vs SLO:",
    ...last.slos.map((x) => `  ${x.pass ? "PASS" : "FAIL"}  ${x.expression}  observed ${x.observed}`),
  ];
}
