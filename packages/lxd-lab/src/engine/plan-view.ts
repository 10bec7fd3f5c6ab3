import { InvalidInputError, LabgateError } from "@labgate/core";
import type { LabSpec } from "../spec/lab-spec.js";
import type { StepDescription } from "./plan-step.js";
import type { LabProvider, LabStep, ResourceRecord, StepContext } from "./step.js";

/** A step as data, for printing and --json. */
export interface PlannedStep {
  index: number;
  id: string;
  title: string;
  why: string;
  commands: string[];
  diagnostics: string[];
}

export interface LabPlan {
  lab: string;
  provider: string;
  steps: PlannedStep[];
}

/** Pure: the provider's plan for this spec in the one step model, checked for duplicate ids. */
export function planSteps(provider: LabProvider, spec: LabSpec): LabStep[] {
  const steps = provider.plan(spec);
  const seen = new Set<string>();
  for (const { description: step } of steps) {
    if (seen.has(step.id)) {
      throw new LabgateError(
        "PLAN_INVALID",
        `Provider "${provider.name}" planned two steps with the id "${step.id}".`,
        {
          hint: "This is a bug in the provider; step ids must be unique.",
        },
      );
    }
    seen.add(step.id);
  }
  return steps;
}

/**
 * The step as shown with what the lab has recorded (`known`) filled in: its `current` description read
 * against the records alone. Pure: the context it reads can record nothing and is never aborted.
 */
export function describeKnown(step: LabStep, spec: LabSpec, known: ResourceRecord[] = []): StepDescription {
  return step.current ? step.current(recordsOnly(spec, known)) : step.description;
}

/** `known`: the lab's recorded resources, so values already allocated show instead of placeholders. */
export function describePlan(provider: LabProvider, spec: LabSpec, known: ResourceRecord[] = []): LabPlan {
  return {
    lab: spec.name,
    provider: provider.name,
    steps: planSteps(provider, spec).map((step, i) => plannedStep(describeKnown(step, spec, known), i + 1)),
  };
}

/** A description as `lab plan`, `lab up|down --dry-run` and their --json show it; `index` is its place in the plan. */
export function plannedStep(s: StepDescription, index: number): PlannedStep {
  return {
    index,
    id: s.id,
    title: s.title,
    why: s.why,
    commands: s.calls.map((c) => c.display),
    diagnostics: [...(s.diagnostics ?? [])],
  };
}

function recordsOnly(spec: LabSpec, known: ResourceRecord[]): StepContext {
  const refuse = async () => {
    throw new LabgateError("PLAN_INVALID", "A step recorded a resource while its plan was being shown.", {
      hint: "This is a bug in the provider: a step's `current` description must be pure.",
    });
  };
  return {
    spec,
    stateDir: "<state>",
    record: refuse,
    forget: refuse,
    resources: (kind) => known.filter((r) => kind === undefined || r.kind === kind).map((r) => ({ ...r })),
    log: () => {},
    signal: new AbortController().signal,
  };
}

/** `--step ID` (just that one) or `--from ID` (that one and everything after it). */
export function selectSteps<S extends { id: string }>(
  steps: S[],
  selection: { step?: string | undefined; from?: string | undefined },
  /** What the steps build, in the message: "lab", "deployment". */
  noun = "lab",
  /** The command that lists the step ids. */
  planCommand = "labgate lab plan",
): S[] {
  if (selection.step !== undefined && selection.from !== undefined) {
    throw new InvalidInputError("STEP_SELECTION", "--step and --from cannot be used together.", {
      hint: "Use --step ID to run one step, or --from ID to run from that step to the end.",
    });
  }
  const id = selection.step ?? selection.from;
  if (id === undefined) return steps;
  const at = steps.findIndex((s) => s.id === id);
  if (at < 0) {
    throw new InvalidInputError("UNKNOWN_STEP", `This ${noun} has no step "${id}".`, {
      hint: `Step ids: ${steps.map((s) => s.id).join(", ")} (see \`${planCommand}\`).`,
      details: { step: id, known: steps.map((s) => s.id) },
    });
  }
  return selection.step !== undefined ? [steps[at]!] : steps.slice(at);
}
