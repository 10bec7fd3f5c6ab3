import type { LxdClient } from "@labgate/core";
import type { Step } from "../../engine/step.js";

/**
 * What LXD says about instances that are not running ("app1 is Stopped", "app1 is missing"), read
 * from the instance records. Checks ask this first: an HTTP probe of a stopped container's address
 * gets no answer at all and only gives up at its timeout, while LXD knows at once.
 */
export async function notRunning(client: LxdClient, instances: string[]): Promise<string[]> {
  const found = await Promise.all(
    instances.map(async (name) => {
      const instance = await client.getInstance(name);
      if (!instance) return `${name} is missing`;
      return instance.status === "Running" ? undefined : `${name} is ${instance.status}`;
    }),
  );
  return found.filter((s): s is string => s !== undefined);
}

/**
 * A step whose check sends requests through the lab (the bench step's "does the LB answer now") asks
 * LXD first: while one of `instances` is not running it reports that at once instead of a request that
 * HAProxy may route to the stopped container and hold for its connect timeout.
 */
export function checkRunningFirst(step: Step, client: () => LxdClient, instances: string[]): Step {
  return {
    ...step,
    async check(ctx) {
      const down = await notRunning(client(), instances);
      if (down.length) return { done: false, detail: `not probed: ${down.join(", ")}` };
      return step.check(ctx);
    },
  };
}
