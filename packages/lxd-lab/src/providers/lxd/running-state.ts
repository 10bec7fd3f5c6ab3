import { getLxdInstance, type LxdClient } from "@labgate/core";
import type { Found } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";

/**
 * What LXD says about instances that are not running ("app1 is Stopped", "app1 is missing"), read
 * from the instance records. Checks ask this first: an HTTP probe of a stopped container's address
 * gets no answer at all and only gives up at its timeout, while LXD knows at once.
 */
export async function notRunning(client: LxdClient, instances: string[]): Promise<string[]> {
  const found = await Promise.all(
    instances.map(async (name) => {
      const instance = await getLxdInstance(client, name);
      if (!instance) return `${name} is missing`;
      return instance.status === "Running" ? undefined : `${name} is ${instance.status}`;
    }),
  );
  return found.filter((s): s is string => s !== undefined);
}

/** What the wrapped check found: the step's own finding, or the instances that kept it from asking. */
export type RunningFirstFacts = { probed: Found<unknown> } | { notRunning: string[] };

/**
 * A step whose check sends requests through the lab (the bench step's "does the LB answer now") asks
 * LXD first: while one of `instances` is not running it reports that at once instead of a request that
 * HAProxy may route to the stopped container and hold for its connect timeout.
 */
export function checkRunningFirst(
  step: LabStep,
  client: () => LxdClient,
  instances: string[],
): LabStep<RunningFirstFacts> {
  const current = step.current;
  return {
    description: step.description,
    ...(current ? { current: (ctx: StepContext) => current(ctx) } : {}),
    actions: {
      async check(ctx) {
        const down = await notRunning(client(), instances);
        if (down.length)
          return { done: false, detail: `not probed: ${down.join(", ")}`, facts: { notRunning: down } };
        const found = await step.actions.check(ctx);
        return {
          done: found.done,
          ...(found.detail ? { detail: found.detail } : {}),
          facts: { probed: found },
        };
      },
      async apply(ctx, found) {
        // The step's own check never ran while an instance was down: what its apply needs is asked for now.
        const own = "probed" in found.facts ? found.facts.probed : await step.actions.check(ctx);
        await step.actions.apply(ctx, own);
      },
      verify: (ctx) => step.actions.verify(ctx),
      undo: (ctx) => step.actions.undo(ctx),
    },
  };
}
