import { readProcStat } from "@labgate/core";
import { FaultActionError, LabInternalError } from "../errors.js";
import { isRunning, waitFor } from "../providers/local/local-process.js";
import type { FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";
import {
  type HaproxyRuntimeApi,
  type HaproxyServerAdminState,
  haproxyServerState,
  setHaproxyServerState,
} from "./haproxy-runtime.js";

/** srv_admin_state bits set by `set server ... state maint|drain` (HAProxy src/server.h SRV_ADMF_FMAINT, SRV_ADMF_FDRAIN). */
const ADMIN_FORCED_MAINT = 0x01;
const ADMIN_FORCED_DRAIN = 0x08;

/** How a process-backed backend is found and brought back (the provider's own start code). */
export interface ProcessTarget {
  /** The backend's live pid, checked to be ours (argv markers); undefined when it is not running. */
  pid(): Promise<number | undefined>;
  /** Starts the backend again the way the lab does (records the new pid, waits until it is healthy). */
  restart(): Promise<void>;
}

const SIGNAL: Record<"stop" | "kill" | "pause", NodeJS.Signals> = {
  stop: "SIGTERM",
  kill: "SIGKILL",
  pause: "SIGSTOP",
};

/**
 * stop / kill: SIGTERM / SIGKILL, waits until the process is gone; undo restarts it through `restart`.
 * pause: SIGSTOP (the process keeps its sockets but answers nothing); undo sends SIGCONT to that pid.
 */
export function processFault(fault: FaultSpec, target: ProcessTarget): FaultHandle {
  if (fault.action !== "stop" && fault.action !== "kill" && fault.action !== "pause") {
    throw new LabInternalError(`processFault was given '${fault.text}': it only does stop, kill and pause.`);
  }
  const action = fault.action;
  let pausedPid: number | undefined;
  return {
    async apply() {
      const pid = await target.pid();
      if (pid === undefined) {
        throw new FaultActionError(
          "FAULT_TARGET_STATE",
          `${fault.target} is not running, so it cannot be ${past(action)}`,
          "Bring the lab back first (`labgate lab up`), then run the faults again.",
          { fault: fault.text },
        );
      }
      if (action === "pause") pausedPid = pid;
      process.kill(pid, SIGNAL[action]);
      const settled =
        action === "pause"
          ? await waitFor(async () => (await readProcStat(pid))?.state === "T", 5_000, undefined, 20)
          : await waitFor(async () => !(await isRunning(pid)), 10_000, undefined, 20);
      if (!settled) {
        throw new FaultActionError(
          "FAULT_NOT_IN_EFFECT",
          `${fault.target} (pid ${pid}) did not ${action === "pause" ? "stop" : "exit"} after ${SIGNAL[action]}`,
          `Look at the process (\`ps -o pid,stat,cmd -p ${pid}\`); \`labgate lab down\` then \`labgate lab up\` restarts the backends.`,
          { fault: fault.text, pid, signal: SIGNAL[action] },
        );
      }
    },
    async undo() {
      if (action === "pause") {
        if (pausedPid === undefined || !(await isRunning(pausedPid))) return;
        const pid = pausedPid;
        process.kill(pid, "SIGCONT");
        // Done when the kernel says the process runs again, not when the signal was sent.
        if (!(await waitFor(async () => (await readProcStat(pid))?.state !== "T", 5_000, undefined, 20))) {
          throw new FaultActionError(
            "FAULT_NOT_IN_EFFECT",
            `${fault.target} (pid ${pid}) is still stopped after SIGCONT`,
            `Send it SIGCONT by hand (\`kill -CONT ${pid}\`) and check its state (\`ps -o stat -p ${pid}\`).`,
            { fault: fault.text, pid },
          );
        }
        return;
      }
      // A stop that never got through leaves the process running: nothing to bring back.
      if ((await target.pid()) === undefined) await target.restart();
    },
  };
}

/** drain / maint: the server's admin state through HAProxy's runtime API; undo sets it `ready`. */
export function haproxyAdminFault(
  fault: FaultSpec,
  lb: { socketPath: HaproxyRuntimeApi; backend: string; server: string },
): FaultHandle {
  if (fault.action !== "drain" && fault.action !== "maint") {
    throw new LabInternalError(`haproxyAdminFault was given '${fault.text}': it only does drain and maint.`);
  }
  const state: HaproxyServerAdminState = fault.action;
  // Each change is read back from HAProxy (`show servers state`): the fault is in place when HAProxy says so.
  const setAndCheck = async (want: HaproxyServerAdminState) => {
    await setHaproxyServerState(lb.socketPath, lb.backend, lb.server, want);
    const live = await haproxyServerState(lb.socketPath, lb.backend, lb.server);
    if (!live) {
      throw new FaultActionError(
        "FAULT_NOT_IN_EFFECT",
        `HAProxy has no server ${lb.backend}/${lb.server}`,
        "The running HAProxy has another config than the lab's: `labgate lab up` renders and reloads it.",
        { fault: fault.text, backend: lb.backend, server: lb.server },
      );
    }
    const flag = live.adminState & (want === "maint" ? ADMIN_FORCED_MAINT : ADMIN_FORCED_DRAIN);
    const ok =
      want === "ready" ? (live.adminState & (ADMIN_FORCED_MAINT | ADMIN_FORCED_DRAIN)) === 0 : flag !== 0;
    if (!ok) {
      throw new FaultActionError(
        "FAULT_NOT_IN_EFFECT",
        `HAProxy reports ${lb.backend}/${lb.server} admin state 0x${live.adminState.toString(16)} after 'state ${want}'`,
        `Check the server by hand (\`show servers state ${lb.backend}\` on the stats socket); another tool may be changing it.`,
        { fault: fault.text, backend: lb.backend, server: lb.server, adminState: live.adminState, want },
      );
    }
  };
  return { apply: () => setAndCheck(state), undo: () => setAndCheck("ready") };
}

function past(action: "stop" | "kill" | "pause"): string {
  return action === "stop" ? "stopped" : action === "kill" ? "killed" : "paused";
}
