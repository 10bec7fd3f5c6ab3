import type { StepCall } from "../../engine/plan-step.js";
import type { ResourceRecord } from "../../engine/step.js";
import { recordedNode } from "./instance-process.js";
import { command, file } from "./process-calls.js";

/**
 * The calls stopping one lab process makes, as shown at the undo gate (the order of stopManagedProcess):
 * the recorded pid once the lab has one, its pid file before.
 */
export function stopProcessCalls(name: string, record?: ResourceRecord): StepCall[] {
  const node = recordedNode(record);
  const pid = node ? String(node.pid) : `$(cat <state>/run/${name}.pid)`;
  return [
    command(
      `kill -TERM -${pid}   # only while it is the process labgate started (same pid and start time); SIGKILL after a grace period`,
    ),
    file(`rm -f <state>/run/${name}.pid`),
  ];
}

/** What undoing the address step does. */
export const releaseAddressCalls: StepCall[] = [
  file("release the lab's address in <state>/ip-pool.state.json"),
];
