import type { PlanStep, StepDescription } from "./plan-step.js";
import type { LabStep, ProviderStep, ResourceRecord, Step, StepContext } from "./step.js";

/** The step's commands with the recorded values (addresses, hashes) filled in where it can. */
function stepCommands(step: Step, known: ResourceRecord[]): string[] {
  return step.commandsFor?.(known) ?? [...step.commands];
}

/**
 * A provider's `Step` as a description: its commands (with what the lab has recorded filled in) become the
 * planned calls. The gate, `lab plan` and the runner read only this.
 */
export function describeStep(step: Step, known: ResourceRecord[] = []): StepDescription {
  // Manual steps are built in the one model (manual-step.ts): no old-shape Step is one.
  const call = (display: string) => ({ display });
  return {
    id: step.id,
    title: step.title,
    why: step.why,
    calls: stepCommands(step, known).map(call),
    ...(step.undoCommands ? { undoCalls: step.undoCommands.map(call) } : {}),
    ...(step.diagnostics ? { diagnostics: [...step.diagnostics] } : {}),
    ...(step.needs ? { needs: [...step.needs] } : {}),
    ...(step.readOnly ? { readOnly: true } : {}),
  };
}

/** Runs a provider's `Step` on runPlan: what its check found (with any facts) is handed to its apply. */
export function fromLegacyStep<F>(step: Step<F>): PlanStep<StepContext, F | undefined> {
  return {
    description: describeStep(step),
    current: (ctx) => describeStep(step, ctx.resources()),
    actions: {
      async check(ctx) {
        const found = await step.check(ctx);
        return { done: found.done, ...(found.detail ? { detail: found.detail } : {}), facts: found.facts };
      },
      apply: (ctx, found) =>
        step.apply(ctx, {
          done: found.done,
          ...(found.detail ? { detail: found.detail } : {}),
          ...(found.facts === undefined ? {} : { facts: found.facts }),
        }),
      verify: (ctx) => step.verify(ctx),
      undo: (ctx) => step.undo(ctx),
    },
  };
}

/** A provider's step in the one model: a `LabStep` as it is, an old-shape `Step` adapted. */
export function toLabStep(step: ProviderStep): LabStep {
  return "actions" in step ? step : fromLegacyStep(step);
}

/** The id of a step in either shape. */
export function providerStepId(step: ProviderStep): string {
  return "actions" in step ? step.description.id : step.id;
}
