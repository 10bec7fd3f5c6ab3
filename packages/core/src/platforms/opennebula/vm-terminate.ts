import { OpenNebulaError } from "../../errors.js";
import { sleep } from "../../util/sleep.js";
import type { OpenNebulaClient } from "./client.js";
import type { OneVm } from "./documents.js";
import { isLcmFailure } from "./states.js";
import { type WaitOptions, waitForVmDone } from "./wait.js";

/**
 * Terminating a VM until it is really gone. `terminate-hard` answers ACTION (ONE_WRONG_STATE) for a VM in a
 * transient state (PROLOG, BOOT, …: src/dm/DispatchManagerActions.cc terminate), and such a VM later reaches
 * RUNNING: treating that answer as "already gone" leaks it. So: a VM already shutting down is waited for; one
 * in a transient state is retried until `retryMs`; one in a failure state, or still refusing after `retryMs`,
 * is deleted with `one.vm.recover(id, 3)`. Then it is waited for until DONE.
 */
export type TerminateOutcome = "gone" | "terminated" | "recovered";

const SHUTTING_DOWN = new Set([
  "SHUTDOWN",
  "EPILOG",
  "CLEANUP_DELETE",
  "CLEANUP_RESUBMIT",
  "SHUTDOWN_POWEROFF",
  "SHUTDOWN_UNDEPLOY",
  "EPILOG_STOP",
  "EPILOG_UNDEPLOY",
]);

/** Whether the VM is on its way to DONE (a same-named one must not be adopted). */
export function isVmShuttingDown(vm: OneVm): boolean {
  return vm.stateName === "DONE" || (vm.stateName === "ACTIVE" && SHUTTING_DOWN.has(vm.lcmStateName));
}

export interface TerminateOptions extends WaitOptions {
  /** How long a VM in a transient state is retried before it is deleted with recover (default 60 s). */
  retryMs?: number;
  onStep?: (message: string) => void;
}

async function info(client: OpenNebulaClient, id: number): Promise<OneVm | undefined> {
  try {
    return await client.vmInfo(id);
  } catch (error) {
    if (error instanceof OpenNebulaError && error.code === "ONE_NOT_FOUND") return undefined;
    throw error;
  }
}

export async function terminateVm(
  client: OpenNebulaClient,
  id: number,
  options: TerminateOptions = {},
): Promise<TerminateOutcome> {
  const retryUntil = Date.now() + (options.retryMs ?? 60_000);
  const interval = options.intervalMs ?? 2_000;
  let outcome: TerminateOutcome = "terminated";
  for (;;) {
    const vm = await info(client, id);
    if (!vm) return "gone";
    if (vm.stateName === "DONE") return "gone";
    if (isVmShuttingDown(vm)) break;
    if (isLcmFailure(vm.lcmState) || vm.stateName === "FAILED" || Date.now() >= retryUntil) {
      options.onStep?.(`VM ${id} is ${vm.label}: deleting it with one.vm.recover(${id}, 3)`);
      await client.vmRecover(id, 3);
      outcome = "recovered";
      break;
    }
    try {
      await client.vmAction("terminate-hard", id);
      break;
    } catch (error) {
      if (!(error instanceof OpenNebulaError)) throw error;
      if (error.code === "ONE_NOT_FOUND") return "gone";
      if (error.code !== "ONE_WRONG_STATE") throw error;
      options.onStep?.(`VM ${id} is ${vm.label}: terminate is not allowed yet, retrying`);
    }
    await sleep(interval, options.signal);
  }
  await waitForVmDone(client, id, options);
  return outcome;
}
