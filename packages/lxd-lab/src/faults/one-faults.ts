import {
  type OneVm,
  type OpenNebulaClient,
  PreconditionError,
  pollUntil,
  type Runner,
  waitForVmRunning,
} from "@labgate/core";
import type { StepContext } from "../engine/step.js";
import { FaultActionError, HaproxyRuntimeError } from "../errors.js";
import { LB_STATS_SOCKET } from "../haproxy/lb-cloud-init.js";
import { haproxyBackendName } from "../haproxy/render-config.js";
import type { OneInstancePlan, OneLabOptions } from "../providers/opennebula/one-lab-options.js";
import { headerValue, httpProbe } from "../verify/http-probe.js";
import type { FaultActuator, FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";
import { faultTargetApp } from "./fault-target.js";
import { lbRuntimeArgv } from "./lxd-faults.js";
import {
  type LinkCommand,
  netemAddCommand,
  netemDeleteCommand,
  netemFault,
  netemShowCommand,
} from "./netem-fault.js";
import { haproxyAdminFault } from "./process-fault.js";

/** Seams of the OpenNebula fault actions; tests replace `ready` where simulated VMs cannot serve HTTP. */
export interface OneFaultDeps {
  client: OpenNebulaClient;
  /**
   * Commands on the OpenNebula host (the lab's SSH access, or local when labgate runs there): drain/maint
   * and delay/loss run inside the LB / app container through it. Without it those actions are refused.
   */
  runner?: Runner;
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
 * reports ACTIVE/RUNNING again and the app answers. drain/maint (HAProxy's runtime socket in the LB's
 * container) and delay/loss (tc netem in the app's container) run through the lab's host access
 * (`lxc exec` / `lxc-attach` on the host, like the expose step); a lab without host access refuses them.
 */
export function oneFaultActuator(ctx: StepContext, o: OneLabOptions, deps: OneFaultDeps): FaultActuator {
  return (fault: FaultSpec): FaultHandle => {
    const app = faultTargetApp(o.lab, o.apps, fault, (a) => a.vmName);
    if (fault.action === "stop" || fault.action === "kill" || fault.action === "pause")
      return oneVmFault(fault, app, vmIdOf(ctx, app, fault), o, deps);
    const runner = deps.runner;
    if (!runner) {
      throw new PreconditionError(
        "FAULT_UNSUPPORTED",
        `Fault '${fault.text}': ${fault.action} on an OpenNebula lab runs inside the ${fault.action === "drain" || fault.action === "maint" ? "LB's container (HAProxy's runtime socket)" : "app's container (tc netem)"} through the OpenNebula host, and this lab has no host access.`,
        {
          hint: "Set providerOptions.ssh { host, user } (or hostAccess: local when labgate runs on the host), or use stop, kill or pause.",
          details: { fault: fault.text },
        },
      );
    }
    if (fault.action === "drain" || fault.action === "maint") {
      const lbId = vmIdOf(ctx, o.lb, fault);
      return haproxyAdminFault(fault, {
        socketPath: async (command) => {
          const r = await inVmContainer(runner, deps.client, lbId, lbRuntimeArgv(command));
          if (r.exitCode !== 0) {
            throw new HaproxyRuntimeError(
              "HAPROXY_RUNTIME_UNREACHABLE",
              `HAProxy's runtime API in ${o.lb.vmName} did not answer '${command}' (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`,
              `Check that HAProxy runs in ${o.lb.vmName} (VM ${lbId}); \`labgate lab up\` repairs the LB.`,
              { vm: o.lb.vmName, vmId: lbId, command, exitCode: r.exitCode },
            );
          }
          return r.stdout;
        },
        backend: haproxyBackendName(o.lab),
        server: app.name,
      });
    }
    const appId = vmIdOf(ctx, app, fault);
    return netemFault(fault, app.vmName, "eth0", (argv) => inVmContainer(runner, deps.client, appId, argv));
  };
}

/**
 * Runs an argument array inside a VM's container on its host: `lxc exec one-<ID> --` with the lxd driver
 * (OpenNebula ≤ 6.8), `lxc-attach -n one-<ID> --` with the lxc driver (6.10+), as root through the runner.
 */
const inVmContainer = async (
  runner: Runner,
  client: OpenNebulaClient,
  vmId: number,
  argv: string[],
): ReturnType<LinkCommand> => {
  const vm = await client.vmInfo(vmId);
  if (vm.hostId === undefined) {
    throw new FaultActionError(
      "FAULT_TARGET_STATE",
      `VM ${vmId} (${vm.name}) is not deployed on a host, so nothing can run in its container`,
      `Look at the VM (\`onevm show ${vmId}\`); \`labgate lab up\` deploys the lab's VMs.`,
      { vmId, vm: vm.name, state: vm.label },
    );
  }
  const driver = (await client.hostInfo(vm.hostId)).vmMad;
  const container = vm.deployId || `one-${vmId}`;
  const [cmd, args] =
    driver === "lxd"
      ? ["lxc", ["exec", container, "--", ...argv]]
      : ["lxc-attach", ["-n", container, "--", ...argv]];
  const r = await runner.run(cmd, args, { sudo: true, allowFailure: true, timeoutMs: 20_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
};

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
    if (vm.name !== app.vmName) {
      throw new FaultActionError(
        "FAULT_TARGET_STATE",
        `VM ${vmId} is ${vm.name}, not ${app.vmName}: the lab's state is out of date`,
        "Run `labgate lab up`: it finds or recreates the lab's VMs and records them again.",
        { vmId, vm: vm.name, expected: app.vmName },
      );
    }
    return vm;
  };
  /** Polls until the VM leaves the transient states of its last action (SHUTDOWN_POWEROFF, SAVE_SUSPEND ...). */
  const settle = (want: readonly string[]): Promise<OneVm> =>
    pollUntil(
      `${app.vmName} (VM ${vmId}) to settle`,
      info,
      (vm) => want.includes(vm.stateName) || want.includes(vm.label),
      {
        timeoutMs,
        intervalMs: interval,
        failed: (vm) =>
          vm.lcmStateName.endsWith("_FAILURE") || ["FAILED", "DONE"].includes(vm.stateName)
            ? new FaultActionError(
                "FAULT_NOT_IN_EFFECT",
                `${app.vmName} (VM ${vmId}) is ${vm.label}${vm.error ? `: ${vm.error}` : ""}`,
                `Read the VM's log (\`onevm show ${vmId}\`, /var/log/one/${vmId}.log on the front-end); \`onevm recover\` or \`labgate lab up\` brings it back.`,
                { vmId, vm: app.vmName, state: vm.label, ...(vm.error ? { error: vm.error } : {}) },
              )
            : undefined,
        timedOut: (vm) =>
          new FaultActionError(
            "FAULT_NOT_IN_EFFECT",
            `${app.vmName} (VM ${vmId}) is still ${vm.label} after ${Math.round(timeoutMs / 1000)} s`,
            "The OpenNebula host may be slow or its driver stuck: look at `onevm show` and raise the lab's waitTimeoutMs if it is only slow.",
            { vmId, vm: app.vmName, state: vm.label, timeoutMs },
          ),
      },
    );
  return {
    async apply() {
      const vm = await info();
      if (vm.label !== "ACTIVE/RUNNING") {
        throw new FaultActionError(
          "FAULT_TARGET_STATE",
          `${app.vmName} (VM ${vmId}) is ${vm.label}, so it cannot be ${action === "pause" ? "suspended" : "powered off"}`,
          "Bring the lab back first (`labgate lab up`), then run the faults again.",
          { vmId, vm: app.vmName, state: vm.label },
        );
      }
      await client.vmAction(APPLY_ACTION[action], vmId);
      await settle([APPLIED_STATE[action]]);
    },
    async undo() {
      // An action still in flight ends in POWEROFF / SUSPENDED (or back in RUNNING if the driver failed).
      const vm = await settle(["POWEROFF", "SUSPENDED", "ACTIVE/RUNNING"]);
      if (vm.stateName === "POWEROFF" || vm.stateName === "SUSPENDED") await client.vmAction("resume", vmId);
      const running = await waitForVmRunning(client, vmId, { timeoutMs, intervalMs: interval });
      const ip = running.nics[0]?.ip;
      if (!ip) {
        throw new FaultActionError(
          "FAULT_NOT_IN_EFFECT",
          `${app.vmName} (VM ${vmId}) runs again without an address`,
          `Look at the VM's NICs (\`onevm show ${vmId}\`); \`labgate lab up\` recreates it with its address.`,
          { vmId, vm: app.vmName },
        );
      }
      const ready = deps.ready ?? probeApp;
      await pollUntil(
        `${app.vmName} (VM ${vmId}) to answer again`,
        () => ready(app, ip, AbortSignal.timeout(5_000)),
        (problem) => problem === undefined,
        {
          timeoutMs,
          intervalMs: interval,
          timedOut: (problem) =>
            new FaultActionError(
              "FAULT_NOT_READY",
              `${app.vmName} (VM ${vmId}) runs again but its app does not answer: ${problem}`,
              `Look at the app inside the VM (${ip}:${app.port}/health); \`labgate lab up\` repairs it.`,
              { vmId, vm: app.vmName, ip, problem, timeoutMs },
            ),
        },
      );
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
  const name = app?.vmName ?? fault.target;
  const vm = `<VM ID of ${name}>`;
  // On the host: `lxc exec` with the lxd driver, `lxc-attach -n` with lxc; shown in the lxd form.
  const inContainer = (of: string, argv: string[]) => `lxc exec one-<VM ID of ${of}> -- ${argv.join(" ")}`;
  switch (fault.action) {
    case "stop":
    case "kill":
    case "pause":
      return {
        apply: `one.vm.action("${APPLY_ACTION[fault.action]}", ${vm}); one.vm.info until ${APPLIED_STATE[fault.action]}`,
        undo: `one.vm.action("resume", ${vm}); one.vm.info until ACTIVE/RUNNING; GET http://<${name} address>:${app?.port ?? "<port>"}/health`,
      };
    case "drain":
    case "maint": {
      const set = (state: string) =>
        `${inContainer(o.lb.vmName, ["python3", "-c", "<send to>", LB_STATS_SOCKET])} 'set server ${haproxyBackendName(o.lab)}/${app?.name ?? fault.target} state ${state}'`;
      return { apply: set(fault.action), undo: set("ready") };
    }
    default:
      return {
        apply: inContainer(name, netemAddCommand(fault, "eth0")),
        undo: `${inContainer(name, netemShowCommand("eth0"))}; if netem: ${inContainer(name, netemDeleteCommand("eth0"))}`,
      };
  }
}
