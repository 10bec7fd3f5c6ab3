import {
  InvalidInputError,
  type OneVm,
  type OpenNebulaClient,
  PreconditionError,
  sleep,
  waitForVmRunning,
} from "@labgate/core";
import type { StepContext } from "../engine/step.js";
import type { OneInstancePlan, OneLabOptions } from "../providers/opennebula/one-lab-options.js";
import { headerValue, httpProbe } from "../verify/http-probe.js";
import type { FaultActuator, FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";

/** Seams of the OpenNebula fault actions; tests replace `ready` where simulated VMs cannot serve HTTP. */
export interface OneFaultDeps {
  client: OpenNebulaClient;
  /** undefined when the app answers GET /health with its own X-Served-By, else what was seen. */
  ready?: (app: OneInstancePlan, ip: string, signal: AbortSignal) => Promise<string | undefined>;
  /** How long a VM may take to reach POWEROFF / SUSPENDED / RUNNING (default: the lab's waitTimeoutMs). */
  timeoutMs?: number;
  pollIntervalMs?: number;
}

/**
 * Fault actions on an OpenNebula lab, through one.vm.action as the real front-end takes them
 * (src/dm/DispatchManagerActions.cc): stop = poweroff, kill = poweroff-hard, pause = suspend, each
 * allowed only from ACTIVE/RUNNING and undone with resume (allowed only from POWEROFF / SUSPENDED).
 * The actions are asynchronous: apply is done when oned reports POWEROFF / SUSPENDED, undo when it
 * reports ACTIVE/RUNNING again and the app answers. drain/maint and delay/loss need a shell inside the
 * LB or app VM, which this lab does not have (its SSH access is to the front-end): they are refused.
 */
export function oneFaultActuator(ctx: StepContext, o: OneLabOptions, deps: OneFaultDeps): FaultActuator {
  return (fault: FaultSpec): FaultHandle => {
    const app = o.apps.find((a) => a.name === fault.target || a.vmName === fault.target);
    if (!app) {
      throw new InvalidInputError(
        "FAULT_TARGET_UNKNOWN",
        `Fault '${fault.text}': lab "${o.lab}" has no backend ${fault.target} (it has ${o.apps.map((a) => a.name).join(", ")}).`,
        { hint: "Name one of the lab's apps as the fault's target.", details: { fault: fault.text } },
      );
    }
    if (fault.action !== "stop" && fault.action !== "kill" && fault.action !== "pause") {
      throw new PreconditionError(
        "FAULT_UNSUPPORTED",
        `Fault '${fault.text}': ${fault.action} on an OpenNebula lab needs a shell inside the ${fault.action === "drain" || fault.action === "maint" ? "LB VM (HAProxy's runtime socket)" : "app VM (tc netem)"}, and labgate's SSH access is to the front-end only.`,
        {
          hint: "Use stop, kill or pause on OpenNebula labs; drain, maint, delay and loss run on the local and LXD labs.",
          details: { fault: fault.text },
        },
      );
    }
    return oneVmFault(fault, app, vmIdOf(ctx, app, fault), o, deps);
  };
}

/** The VM the lab recorded for this app (kind one-vm, data.name = VM name), before anything runs. */
function vmIdOf(ctx: StepContext, app: OneInstancePlan, fault: FaultSpec): number {
  const record = ctx.resources("one-vm").find((r) => r.data?.["name"] === app.vmName);
  const id = Number(record?.id);
  if (!record || !Number.isInteger(id)) {
    throw new PreconditionError(
      "FAULT_NO_BACKEND",
      `Fault '${fault.text}': no VM is recorded for ${app.vmName} in the lab's state.`,
      {
        hint: "Run `labgate lab up` first: it creates and records the app VMs.",
        details: { fault: fault.text },
      },
    );
  }
  return id;
}

const APPLY_ACTION = { stop: "poweroff", kill: "poweroff-hard", pause: "suspend" } as const;
const APPLIED_STATE = { stop: "POWEROFF", kill: "POWEROFF", pause: "SUSPENDED" } as const;

function oneVmFault(
  fault: FaultSpec,
  app: OneInstancePlan,
  vmId: number,
  o: OneLabOptions,
  deps: OneFaultDeps,
): FaultHandle {
  const action = fault.action as "stop" | "kill" | "pause";
  const { client } = deps;
  const timeoutMs = deps.timeoutMs ?? o.waitTimeoutMs;
  const interval = deps.pollIntervalMs ?? Math.min(o.pollIntervalMs, 1_000);
  const info = async (): Promise<OneVm> => {
    const vm = await client.vmInfo(vmId);
    if (vm.name !== app.vmName)
      throw new Error(`VM ${vmId} is ${vm.name}, not ${app.vmName}: the lab's state is out of date`);
    return vm;
  };
  /** Polls until the VM leaves the transient states of its last action (SHUTDOWN_POWEROFF, SAVE_SUSPEND ...). */
  const settle = async (want: readonly string[]): Promise<OneVm> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const vm = await info();
      if (want.includes(vm.stateName) || want.includes(vm.label)) return vm;
      if (vm.lcmStateName.endsWith("_FAILURE") || ["FAILED", "DONE"].includes(vm.stateName))
        throw new Error(`${app.vmName} (VM ${vmId}) is ${vm.label}${vm.error ? `: ${vm.error}` : ""}`);
      if (Date.now() > deadline)
        throw new Error(
          `${app.vmName} (VM ${vmId}) is still ${vm.label} after ${Math.round(timeoutMs / 1000)} s`,
        );
      await sleep(interval);
    }
  };
  return {
    async apply() {
      const vm = await info();
      if (vm.label !== "ACTIVE/RUNNING")
        throw new Error(
          `${app.vmName} (VM ${vmId}) is ${vm.label}, so it cannot be ${action === "pause" ? "suspended" : "powered off"}`,
        );
      await client.vmAction(APPLY_ACTION[action], vmId);
      await settle([APPLIED_STATE[action]]);
    },
    async undo() {
      // An action still in flight ends in POWEROFF / SUSPENDED (or back in RUNNING if the driver failed).
      const vm = await settle(["POWEROFF", "SUSPENDED", "ACTIVE/RUNNING"]);
      if (vm.stateName === "POWEROFF" || vm.stateName === "SUSPENDED") await client.vmAction("resume", vmId);
      const running = await waitForVmRunning(client, vmId, { timeoutMs, intervalMs: interval });
      const ip = running.nics[0]?.ip;
      if (!ip) throw new Error(`${app.vmName} (VM ${vmId}) runs again without an address`);
      const deadline = Date.now() + timeoutMs;
      const ready = deps.ready ?? probeApp;
      for (;;) {
        const problem = await ready(app, ip, AbortSignal.timeout(5_000));
        if (problem === undefined) return;
        if (Date.now() > deadline)
          throw new Error(`${app.vmName} (VM ${vmId}) runs again but its app does not answer: ${problem}`);
        await sleep(interval);
      }
    },
  };
}

async function probeApp(app: OneInstancePlan, ip: string, signal: AbortSignal): Promise<string | undefined> {
  const url = `http://${ip}:${app.port}/health`;
  try {
    const res = await httpProbe(url, { timeoutMs: 2_000, signal });
    const servedBy = headerValue(res, "X-Served-By");
    if (res.status !== 200) return `GET ${url} answered HTTP ${res.status}`;
    return servedBy === app.name ? undefined : `GET ${url} answered X-Served-By ${servedBy ?? "none"}`;
  } catch (error) {
    return `GET ${url} failed: ${(error as Error).message}`;
  }
}

/** What the gate shows for a fault on an OpenNebula lab. */
export function oneFaultCalls(o: OneLabOptions, fault: FaultSpec): { apply: string; undo: string } {
  const app = o.apps.find((a) => a.name === fault.target || a.vmName === fault.target);
  const vm = `<VM ID of ${app?.vmName ?? fault.target}>`;
  const action = APPLY_ACTION[fault.action as "stop"] ?? fault.action;
  return {
    apply: `one.vm.action("${action}", ${vm}); one.vm.info until ${APPLIED_STATE[fault.action as "stop"] ?? "?"}`,
    undo: `one.vm.action("resume", ${vm}); one.vm.info until ACTIVE/RUNNING; GET http://<${app?.vmName ?? fault.target} address>:${app?.port ?? "<port>"}/health`,
  };
}
