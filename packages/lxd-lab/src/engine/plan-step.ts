import type { Gate } from "./gate.js";
import type { StepRecord } from "./lab-state.js";
import type { ManualInstructions } from "./manual-step.js";

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
  /** Set when only the person can do it (a machine labgate cannot reach): the gate shows these and asks. */
  manual?: ManualInstructions;
}

/**
 * What `check` saw. `facts` is what `apply` needs of it (ids, addresses, what exists already); a step whose
 * apply needs nothing (facts may be undefined) can leave it out.
 */
export type Found<F = undefined> = {
  done: boolean;
  detail?: string;
} & (undefined extends F ? { facts?: F } : { facts: F });

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
  /**
   * The description with what the run has learned so far filled in (addresses an earlier step
   * allocated, a call that depends on what `check` found): shown at the gate instead of `description`
   * when given. Pure.
   */
  current?(ctx: C, found?: Found<F>): StepDescription;
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
  /**
   * dry-run only: preview `apply` (default: what each check finds) or `undo` (what would be undone, in
   * reverse, with its undo calls; nothing is checked). Either way nothing is run, marked or asked.
   */
  dryRunOf?: "apply" | "undo";
  log?: (message: string) => void;
  /** Ctrl-C: the current step stops, its status is saved as interrupted, the run ends (exit 130). */
  signal?: AbortSignal;
  /** Run (or undo) just this step. */
  step?: string | undefined;
  /** apply only: start at this step. */
  from?: string | undefined;
  /** The command that continues this run, named when it stops: "labgate deploy apply web.json". */
  resume: string;
  /** apply only: undo this step and apply it again, whatever its check says (repairs what re-running cannot). */
  replace?: string | undefined;
  /** What the plan builds, in messages: "lab" (default "plan"), "deployment", "image build". */
  noun?: string;
  /** The command that lists the step ids, named when --step/--from names none. */
  planCommand?: string;
  /** apply: the calls the caller printed before the run (deploy's plan); a step lists only the others. */
  callsShown?: (call: StepCall) => boolean;
  /** What a caller adds around the one loop (a lab adopts the files a step wrote, names what a step owns). */
  hooks?: RunPlanHooks;
}

export interface RunPlanHooks {
  /** Runs a step's apply+verify or undo; the lab uses it to adopt the files the step wrote. Default: `work()`. */
  around?(stepId: string, action: "apply" | "undo", work: () => Promise<void>): Promise<void>;
  /** undo: did this step run here (a record, or resources it owns)? Default: the store has a record of it. */
  ran?(stepId: string): boolean;
  /** undo: what the step owns, shown at the undo gate ("process 4242"). */
  owned?(stepId: string): string[];
  /** A failed read-only step is recorded only when this says so (a refused new lab leaves no state). Default: yes. */
  recordReadOnlyFailure?(): Promise<boolean>;
  /** apply: what to do after this step failed, when the caller knows better than "run it again". */
  nextAfterFailure?(stepId: string, wasBuilt: boolean): string;
  /** Fills placeholders in the calls and diagnostics a failure shows (a lab's `<state>` → its state dir). */
  fill?(text: string): string;
}

export type PlanOutcomeKind =
  | "already-done"
  | "applied"
  | "replaced"
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
