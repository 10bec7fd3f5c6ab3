import type { LabRunResult } from "../engine/run-lab.js";
import type { LabVerifyResult } from "../engine/step.js";
import type { DemoPhase } from "./demo-phases.js";

/** What the demo's benchmark produced, with its report copied out of the lab's state dir. */
export interface DemoBench {
  available: true;
  url: string;
  /** The request every benchmark request sent (the body by size; it is BENCH_REQUEST.body). */
  request: { method: string; bodyBytes: number; contentType: string };
  /** HTTP status codes of the measured responses: anything but 200 means the numbers are not the model's. */
  statusCodes: Record<string, number>;
  slos: string[];
  slosPassed: boolean | null;
  /** Why the load generator's numbers may describe itself rather than the lab; absent when trustworthy. */
  untrustworthy?: string[];
  aborted: boolean;
  reports: { dir: string; resultJson: string; reportMd: string; reportHtml: string };
}

/** The demo's document (`labgate demo --json` prints it as it is, also after a failure). */
export interface DemoResult {
  lab: string;
  /** The phases announced before the demo ran (see demoPhases). */
  phases: DemoPhase[];
  up: LabRunResult | null;
  verify: LabVerifyResult | null;
  bench: DemoBench | null;
  down: LabRunResult | null;
  kept: boolean;
  /** What stopped the demo early (or its teardown failing), if anything. */
  error?: { code: string; message: string };
}

/** A finished demo: its document, the exit code it earned, and the original error when one stopped it. */
export interface DemoRun {
  result: DemoResult;
  /**
   * 0 when everything passed; 1 (CHECK_FAILED) when the round robin or an SLO failed; 130 (INTERRUPTED)
   * when the benchmark was stopped; otherwise the failure's own exit code (5 for an unknown error).
   */
  exitCode: number;
  /** The error that stopped the demo or failed its teardown, as thrown (its code, hint and cause intact). */
  failure?: unknown;
}
