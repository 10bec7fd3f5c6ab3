import { StepFailedError } from "../errors.js";
import type { StepCall, StepDescription } from "./plan-step.js";
import type { LabStep, StepContext } from "./step.js";

/** What a person must do by hand, where, and how to reverse it. */
export interface ManualInstructions {
  /** Where to run it, for people: "on the VirtualBox host (the machine running VirtualBox)". */
  where: string;
  /** The exact commands to run there. */
  commands: string[];
  /** The exact commands that reverse them, shown at `lab down`. */
  undoCommands: string[];
}

/**
 * A step labgate cannot run itself (it has no access to the machine): it shows the exact commands, the
 * gate asks the person whether they ran them, and the answer is recorded. `--yes` never confirms one
 * (autoYesGate refuses it): only the person who ran the command can say it was run.
 */
export interface ManualStep extends LabStep<undefined> {
  /** Its calls (kind "manual") and undo calls are the person's commands; `manual` says where they run. */
  description: StepDescription & { manual: ManualInstructions };
}

/** Is the step done by hand? Read from its description, the only part the gate sees. */
export function isManualStep(step: LabStep): step is ManualStep {
  const manual = step.description.manual;
  return manual !== undefined && Array.isArray(manual.commands);
}

export const MANUAL_RESOURCE = "manual";

export interface ManualStepOptions {
  id: string;
  title: string;
  why: string;
  manual: ManualInstructions;
  /** Facts kept with the record (e.g. the VM name and ports), so `lab down` shows the same reverse. */
  data?: Record<string, unknown>;
}

/**
 * Done means: the person confirmed it (the record). Nothing on this machine can observe a NAT rule on
 * another host, so unlike other steps the check reads the record; the step's title and the status output
 * say "confirmed by you", never "verified".
 */
export function manualStep(options: ManualStepOptions): ManualStep {
  const { id, manual } = options;
  const recorded = (ctx: StepContext) => ctx.resources(MANUAL_RESOURCE).find((r) => r.stepId === id);
  // What the person runs is both what the gate shows and what apply records as confirmed.
  const byYou = (command: string): StepCall => ({
    display: `${command}  # by you, ${manual.where}`,
    kind: "manual",
  });
  return {
    description: {
      id,
      title: options.title,
      why: options.why,
      calls: manual.commands.map(byYou),
      undoCalls: manual.undoCommands.map(byYou),
      manual,
    },
    actions: {
      async check(ctx) {
        const r = recorded(ctx);
        return r
          ? {
              done: true,
              detail: `confirmed by you at ${String(r.data?.["confirmedAt"] ?? "an earlier run")}`,
              facts: undefined,
            }
          : { done: false, detail: "not confirmed yet", facts: undefined };
      },
      async apply(ctx) {
        // The gate's "yes" is the person's confirmation that the commands ran; this records it.
        await ctx.record({
          kind: MANUAL_RESOURCE,
          id,
          stepId: id,
          data: {
            ...options.data,
            where: manual.where,
            commands: manual.commands,
            undoCommands: manual.undoCommands,
            confirmedAt: new Date().toISOString(),
          },
        });
        ctx.log(`  recorded: you ran it ${manual.where}`);
      },
      async verify(ctx) {
        if (!recorded(ctx)) {
          throw new StepFailedError(
            id,
            `Step ${id} is done by hand ${manual.where}, and no one has confirmed it ran.`,
            {
              hint: `Run its commands ${manual.where}, then run \`labgate lab up\` again and answer yes at its gate.`,
              details: { where: manual.where, commands: manual.commands },
            },
          );
        }
      },
      async undo(ctx) {
        const r = recorded(ctx);
        if (!r) return;
        const kept = r.data?.["undoCommands"];
        const reverse = Array.isArray(kept) ? kept.map(String) : manual.undoCommands;
        ctx.log(`  labgate cannot reach ${manual.where}; run there, if you have not yet:`);
        for (const c of reverse) ctx.log(`    $ ${c}`);
        await ctx.forget(MANUAL_RESOURCE, r.id);
      },
    },
  };
}
