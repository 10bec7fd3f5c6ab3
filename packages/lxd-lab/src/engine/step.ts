import type { LabSpec } from "../spec/lab-spec.js";
import type { PlanStep } from "./plan-step.js";

/**
 * A lab step: the one step model (plan-step.ts) over the lab's context. A lab is a list of steps computed
 * by a pure `plan(spec)`; the runner shows each description, asks at the gate, then runs check → apply →
 * verify and records progress; `undo` runs in reverse order on `lab down`.
 */
// biome-ignore lint/suspicious/noExplicitAny: a plan mixes steps whose facts differ; each step is typed where it is built.
export type LabStep<F = any> = PlanStep<StepContext, F>;

/** A resource a step created, recorded in the lab state as soon as its id is known. */
export interface ResourceRecord {
  /** e.g. "process", "container", "network", "vm", "template", "proxy-device", "file". */
  kind: string;
  /** Provider id: pid, instance name, OpenNebula VM id ... */
  id: string;
  /** Step that created it. */
  stepId: string;
  /** Free-form facts needed to find, check or undo it (address, port, pidfile ...). */
  data?: Record<string, unknown>;
}

export interface StepContext {
  readonly spec: LabSpec;
  /** Directory of this lab's state, logs and pid files (created by the engine, mode 0700). */
  readonly stateDir: string;
  /** Records (or updates) a resource immediately and durably, before waiting on it. */
  record(resource: ResourceRecord): Promise<void>;
  /** Forgets a resource after undo removed it. */
  forget(kind: string, id: string): Promise<void>;
  /** Resources recorded so far (optionally of one kind). */
  resources(kind?: string): ResourceRecord[];
  /** Progress line for people (stderr). */
  log(message: string): void;
  /** Aborted on Ctrl-C; long waits must honour it. */
  readonly signal: AbortSignal;
}

export interface LabProvider {
  readonly name: string;
  /** Pure: the ordered steps for this spec. No I/O. */
  plan(spec: LabSpec): LabStep[];
  /**
   * Optional, for `lab status`: the live health of the recorded resources (ctx.resources()).
   * Resources left out are shown as "unknown". Read-only: must not change anything.
   */
  status?(ctx: StepContext): Promise<ResourceHealth[]>;
  /**
   * Optional, for `lab verify` and the demo: proves the whole lab works end to end (local provider:
   * N requests through the LB, every backend served, split within tolerance). Read-only.
   */
  verify?(ctx: StepContext, options: LabVerifyOptions): Promise<LabVerifyResult>;
  /** Optional: the URL users (and the bench) reach the lab's service at; default http://127.0.0.1:<lb.port>/. */
  endpoint?(spec: LabSpec): string;
  /**
   * Optional, for the lab fingerprint a bench result carries: the HAProxy configuration the lab's LB
   * runs, read from the live LB (the file it was started from); null when it cannot be read. Read-only.
   */
  lbConfig?(ctx: StepContext): Promise<string | null>;
}

export type HealthState = "healthy" | "unhealthy" | "unknown";

export interface ResourceHealth {
  kind: string;
  id: string;
  health: HealthState;
  /** What was seen, e.g. "pid 4242 alive, GET /health 200 in 3 ms" or "pid 4242 not running". */
  detail?: string;
}

export interface LabVerifyOptions {
  /** Requests to send through the LB (default chosen by the provider, e.g. 20). */
  requests?: number;
  /** Allowed deviation of each backend's share from an even split, as a fraction (e.g. 0.2). */
  tolerance?: number;
}

export interface LabVerifyResult {
  passed: boolean;
  /** One line for people, e.g. "round robin OK: 20/20 with X-Served-By, app1 10, app2 10". */
  summary: string;
  /** Further lines for people (the sequence of backends, which backend is down ...). */
  lines?: string[];
  /** Structured result for --json (e.g. the full round-robin report). */
  data?: unknown;
}
