import { ADDRESS_STEP_ID } from "./address-step.js";
import { LB_STEP_ID } from "./lb-step.js";
import type { LocalApp } from "./local-lab.js";

/** The calls each local step's undo makes, as shown at the undo gate (the same order as its `undo`). */
export function localUndoCalls(apps: LocalApp[], lbName: string, stepId: string): string[] | undefined {
  const stop = (name: string) => [
    `kill -TERM $(cat <state>/run/${name}.pid)   # only the recorded pid, if it is still ${name}; SIGKILL after a grace period`,
    `rm -f <state>/run/${name}.pid`,
  ];
  if (stepId === ADDRESS_STEP_ID) return ["release the lab's address in <state>/ip-pool.state.json"];
  if (stepId === LB_STEP_ID)
    return [...stop(lbName), "rm -f <state>/run/haproxy.cfg <state>/run/haproxy.sock"];
  const app = apps.find((a) => stepId === `start-${a.name}`);
  return app ? stop(app.name) : undefined;
}
