import { LabInternalError } from "../errors.js";
import { refusingGate } from "./gate.js";
import { LabStateStore } from "./lab-state.js";
import type { PlanOutcomeKind } from "./plan-step.js";
import {
  describeKnown,
  type LabPlan,
  type PlannedStep,
  plannedStep,
  planSteps,
  selectSteps,
} from "./plan-view.js";
import { assertSameLab, type LabRunOptions, labRun } from "./run-lab.js";
import { checkReplace, runPlan } from "./run-plan.js";
import type { LabStep, StepContext } from "./step.js";

/** A step of `lab up|down --dry-run`: as `lab plan` shows it, with what the runner found. */
export interface LabDryRunStep extends PlannedStep {
  /** up: would-run, already-done, unknown (the check failed: `detail`); down: would-undo, nothing-to-undo. */
  outcome: PlanOutcomeKind;
  detail?: string;
  /** down: the calls undo makes. */
  undoCommands?: string[];
}

export interface LabDryRun extends LabPlan {
  dryRun: true;
  action: "up" | "down";
  /** In the order the run takes them: down undoes in reverse. */
  steps: LabDryRunStep[];
}

/**
 * `lab up --dry-run` / `lab down --dry-run`: runPlan's dry run over the lab's steps with the lab's store and
 * hooks (what ran, what each step owns). up runs every selected step's check; down reads the records only.
 * Nothing is run, recorded, locked or asked: a check that tried to record would be a bug, and is refused.
 */
export async function labDryRun(
  options: Omit<LabRunOptions, "gate">,
  action: "up" | "down",
): Promise<LabDryRun> {
  const { provider, spec } = options;
  const store = new LabStateStore(options.stateDir);
  const existing = await store.load();
  assertSameLab(existing, spec, provider, options.stateDir);
  // Without state nothing ran here: nothing to undo, even for a spec whose plan() refuses its options.
  const all = action === "down" && existing === undefined ? [] : planSteps(provider, spec);
  const replace = action === "up" ? options.replace : undefined;
  if (replace !== undefined) {
    const described = all.map((s) => s.description);
    checkReplace(described, selectSteps(described, options), replace, "lab", "labgate lab plan");
  }
  const base = labRun({ ...options, gate: refusingGate() }, store, all, `labgate lab ${action}`);
  const result = await runPlan(all, {
    ...base,
    ctx: readOnlyContext(base.ctx),
    mode: "dry-run",
    dryRunOf: action === "down" ? "undo" : "apply",
    step: existing || action === "up" ? options.step : undefined,
    from: action === "up" ? options.from : undefined,
  });
  const known = store.snapshot(spec.name, provider.name).resources;
  const at = new Map(all.map((s, i) => [s.description.id, i]));
  return {
    dryRun: true,
    action,
    lab: spec.name,
    provider: provider.name,
    steps: result.steps.map((o) => {
      const i = at.get(o.id) as number;
      const d = describeKnown(all[i] as LabStep, spec, known);
      // --replace runs the step whatever its check says: undone first, then applied again.
      const replaced = o.id === replace;
      const detail = replaced
        ? `replaced: undone, then applied again${o.detail ? ` (now: ${o.detail})` : ""}`
        : o.detail;
      return {
        ...plannedStep(d, i + 1),
        outcome: replaced && o.outcome === "already-done" ? "would-run" : o.outcome,
        ...(detail ? { detail } : {}),
        ...(action === "down" ? { undoCommands: (d.undoCalls ?? []).map((c) => c.display) } : {}),
      };
    }),
  };
}

/** The lab's context with its writes refused: a dry run's checks only look. */
function readOnlyContext(ctx: StepContext): StepContext {
  const refuse = async (what: string) => {
    throw new LabInternalError(`A step's check tried to ${what} during a dry run, which changes nothing.`);
  };
  return {
    ...ctx,
    record: (r) => refuse(`record ${r.kind} ${r.id}`),
    forget: (kind, id) => refuse(`forget ${kind} ${id}`),
  };
}
