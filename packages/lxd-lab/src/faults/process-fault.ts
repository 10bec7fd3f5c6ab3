import { readProcStat } from "@labgate/core";
import { isRunning, waitFor } from "../providers/local/local-process.js";
import type { FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";
import { type HaproxyServerAdminState, setHaproxyServerState } from "./haproxy-runtime.js";

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
    throw new Error(`processFault cannot ${fault.action}`);
  }
  const action = fault.action;
  let pausedPid: number | undefined;
  return {
    async apply() {
      const pid = await target.pid();
      if (pid === undefined)
        throw new Error(`${fault.target} is not running, so it cannot be ${past(action)}`);
      if (action === "pause") pausedPid = pid;
      process.kill(pid, SIGNAL[action]);
      const settled =
        action === "pause"
          ? await waitFor(async () => (await readProcStat(pid))?.state === "T", 5_000, undefined, 20)
          : await waitFor(async () => !(await isRunning(pid)), 10_000, undefined, 20);
      if (!settled) {
        throw new Error(
          `${fault.target} (pid ${pid}) did not ${action === "pause" ? "stop" : "exit"} after ${SIGNAL[action]}`,
        );
      }
    },
    async undo() {
      if (action === "pause") {
        if (pausedPid !== undefined && (await isRunning(pausedPid))) process.kill(pausedPid, "SIGCONT");
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
  lb: { socketPath: string; backend: string; server: string },
): FaultHandle {
  if (fault.action !== "drain" && fault.action !== "maint") {
    throw new Error(`haproxyAdminFault cannot ${fault.action}`);
  }
  const state: HaproxyServerAdminState = fault.action;
  return {
    apply: () => setHaproxyServerState(lb.socketPath, lb.backend, lb.server, state),
    undo: () => setHaproxyServerState(lb.socketPath, lb.backend, lb.server, "ready"),
  };
}

function past(action: "stop" | "kill" | "pause"): string {
  return action === "stop" ? "stopped" : action === "kill" ? "killed" : "paused";
}
