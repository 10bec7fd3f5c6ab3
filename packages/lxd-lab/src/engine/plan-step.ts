import type { Gate } from "./gate.js";
import type { StepRecord } from "./lab-state.js";

/**
 * The one step model labs, image builds and deployments share. A step is a pure description (what the
 * gate, `plan`, `--dry-run` and `--json` show) and its actions (what runs behind the gate). What `check`
 * found on the machines is handed to `apply`, so nothing is inspected twice or carried in mutable fields.
 */

/** One call a step makes, as data. The code that makes the call produces this value too. */
export interface StepCall {
  /** What a person reads: a shell-quoted command line, `POST /api2/json/...`, `one.vm.allocate ...`. */
  display: string;
  kind?: "command" | "http" | "xmlrpc" | "sdk" | "probe" | "file" | "manual";
  /** Where it runs when not on this machine: "host", "lxd", an instance name. */
  where?: string;
}

export interface StepDescription {
  /** Stable id, kebab-case, unique in the plan. */
  id: string;
  title: string;
  /** One paragraph for a person learning as they go: why this step exists and what it changes. */
  why: string;
  /** The calls `apply` makes, in order. */
  calls: StepCall[];
  /** The calls `undo` makes, shown at the undo gate. */
  undoCalls?: StepCall[];
  /** What to try next when the step fails. */
  diagnostics?: string[];
  /** Ids of earlier steps this one needs; undeclared: every earlier step that is not read-only. */
  needs?: string[];
  /** Changes nothing on the machines (preflight, verify): undo only forgets its record. */
  readOnly?: boolean;
}

/** What `check` saw. `facts` is what `apply` needs of it (ids, addresses, what exists already). */
export interface Found<F = undefined> {
  done: boolean;
  detail?: string;
  facts: F;
}

export interface StepActions<C, F = undefined> {
  check(ctx: C): Promise<Found<F>>;
  apply(ctx: C, found: Found<F>): Promise<void>;
  /** Proves the step worked on the live resource; throws otherwise. */
  verify(ctx: C): Promise<void>;
  /** Removes what this step created, and only that; succeeds when there is nothing to remove. */
  undo(ctx: C): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: a plan mixes steps whose facts differ; each step is typed where it is built.
export interface PlanStep<C, F = any> {
  description: StepDescription;
  actions: StepActions<C, F>;
}

export type RunMode = "apply" | "undo" | "dry-run";

/** Where a run records each step's progress (a lab's state.json, a deploy record, an image cache entry). */
export interface PlanStore {
  /** Shown in messages: where the progress is kept. */
  readonly location: string;
  status(stepId: string): StepRecord | undefined;
  mark(stepId: string, record: Omit<StepRecord, "at">): Promise<void>;
  forget(stepId: string): Promise<void>;
}

export interface RunPlanOptions<C> {
  ctx: C;
  store: PlanStore;
  gate: Gate;
  mode: RunMode;
  log?: (message: string) => void;
  /** Ctrl-C: the current step stops, its status is saved as interrupted, the run ends (exit 130). */
  signal?: AbortSignal;
  /** Run (or undo) just this step. */
  step?: string | undefined;
  /** apply only: start at this step. */
  from?: string | undefined;
  /** The command that continues this run, named when it stops: "labgate deploy apply web.json". */
  resume: string;
}

export type PlanOutcomeKind =
  | "already-done"
  | "applied"
  | "skipped"
  | "undone"
  | "nothing-to-undo"
  | "would-run"
  | "would-undo"
  | "unknown";

export interface PlanOutcome {
  id: string;
  title: string;
  outcome: PlanOutcomeKind;
  detail?: string;
  calls: StepCall[];
}

export interface RunPlanResult {
  mode: RunMode;
  steps: PlanOutcome[];
  /** Did this run change anything? */
  changed: boolean;
  /** apply: every step is done; undo: every step is undone; dry-run: false. */
  complete: boolean;
}
