import type { StepCall } from "../../engine/plan-step.js";
import type { ImageStep } from "../image-build-steps.js";
import type { CommandCall, CommandOutcome, ImageContext } from "../image-context.js";

export type Phase = "check" | "apply" | "verify" | "undo";

/** One call an image step made through its context, and which step (and action) made it. */
export interface MadeCall {
  step: string;
  phase: Phase;
  call: StepCall;
}

/**
 * Records every call image steps make through `ctx.exec` and `ctx.perform`, attributed to the step and
 * action running (wrap the steps with `attributed`). `exec` replaces running a command (the default runs it).
 */
export function callRecorder(
  base: ImageContext,
  made: MadeCall[],
  exec: (call: CommandCall) => Promise<CommandOutcome> = (call) => base.exec(call),
) {
  let current: Omit<MadeCall, "call"> = { step: "", phase: "check" };
  const ctx: ImageContext = {
    ...base,
    exec(call) {
      made.push({ ...current, call });
      return exec(call);
    },
    perform(call, action) {
      made.push({ ...current, call });
      return base.perform(call, action);
    },
  };
  const attributed = (step: ImageStep): ImageStep => {
    const id = step.description.id;
    const a = step.actions;
    const as = (phase: Phase) => {
      current = { step: id, phase };
    };
    return {
      ...step,
      actions: {
        check(c) {
          as("check");
          return a.check(c);
        },
        apply(c, found) {
          as("apply");
          return a.apply(c, found);
        },
        verify(c) {
          as("verify");
          return a.verify(c);
        },
        undo(c) {
          as("undo");
          return a.undo(c);
        },
      },
    };
  };
  return { ctx, attributed };
}
