import { existsSync } from "node:fs";
import { InvalidInputError, PreconditionError } from "@labgate/core";
import type { StepContext } from "../engine/step.js";
import { haproxyBackendName } from "../haproxy/render-config.js";
import { appProcess, startAppStep } from "../providers/local/app-steps.js";
import { ownProcessAlive } from "../providers/local/instance-process.js";
import { localStatsSocket } from "../providers/local/lb-step.js";
import { labAddress, localApps } from "../providers/local/local-lab.js";
import { netnsOfApp } from "../providers/local/netns-plan.js";
import type { LabSpec } from "../spec/lab-spec.js";
import type { FaultActuator, FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";
import { localNetemFault, type NetemTarget, netemUnavailable } from "./local-netem.js";
import { netemAddCommand, netemDeleteCommand, netemShowCommand } from "./netem-fault.js";
import { haproxyAdminFault, processFault } from "./process-fault.js";

/**
 * delay / loss need the app's own link: the namespace the lab made for it (providerOptions.netns),
 * and a kernel with netem. Refused before any traffic when either is missing.
 */
function netemTarget(ctx: StepContext, fault: FaultSpec, appName: string): NetemTarget {
  const n = netnsOfApp(ctx.spec, appName);
  if (!n) {
    throw new PreconditionError(
      "FAULT_NEEDS_NETNS",
      `Fault '${fault.text}': ${fault.action} needs tc netem on ${appName}'s own network link, and lab "${ctx.spec.name}" runs its apps on loopback (providerOptions.netns is off).`,
      {
        hint: 'Set "providerOptions": { "netns": true } in the lab spec and run `labgate lab up` again as root (it puts each app in its own network namespace); or use stop, kill, pause, drain or maint.',
        details: { fault: fault.text },
      },
    );
  }
  if (!ctx.resources("netns").some((r) => r.id === n.netns)) {
    throw new PreconditionError(
      "FAULT_NO_NETNS",
      `Fault '${fault.text}': the lab has no namespace ${n.netns} for ${appName} yet.`,
      {
        hint: "Run `labgate lab up` (as root) to build the namespaces, then the bench.",
        details: { fault: fault.text },
      },
    );
  }
  const why = netemUnavailable();
  if (why) {
    throw new PreconditionError("FAULT_NETEM_UNAVAILABLE", `Fault '${fault.text}': ${why}.`, {
      hint: "Load it (`modprobe sch_netem`) or use a kernel built with CONFIG_NET_SCH_NETEM (Debian's and Ubuntu's stock kernels ship it); stop, kill, pause, drain and maint work without it.",
      details: { fault: fault.text },
    });
  }
  return { netns: n.netns, dev: n.vethApp };
}

/** What each fault runs on the local lab and how it is undone, as the fault gate shows it. */
export function localFaultCalls(spec: LabSpec, fault: FaultSpec): { apply: string; undo: string } {
  const pidOf = `$(cat <state>/run/${fault.target}.pid)`;
  const runtime = (state: string) =>
    `echo 'set server ${haproxyBackendName(spec.name)}/${fault.target} state ${state}' | socat stdio <state>/run/haproxy.sock`;
  switch (fault.action) {
    case "stop":
    case "kill":
      return {
        apply: `kill -${fault.action === "stop" ? "TERM" : "KILL"} ${pidOf}`,
        undo: `restart ${fault.target} through its start step (until /health answers)`,
      };
    case "pause":
      return { apply: `kill -STOP ${pidOf}`, undo: `kill -CONT ${pidOf}` };
    case "drain":
    case "maint":
      return { apply: runtime(fault.action), undo: runtime("ready") };
    default: {
      const n = netnsOfApp(spec, fault.target);
      const ns = n?.netns ?? `lg-${spec.name}-${fault.target}`;
      const dev = n?.vethApp ?? "<veth>";
      const inNs = (argv: string[]) => `ip netns exec ${ns} ${argv.join(" ")}`;
      return {
        apply: inNs(netemAddCommand(fault, dev)),
        undo: `${inNs(netemShowCommand(dev))}; if netem: ${inNs(netemDeleteCommand(dev))}`,
      };
    }
  }
}

/** The same lab context with another abort signal (methods delegate; the state is shared). */
function withSignal(ctx: StepContext, signal: AbortSignal): StepContext {
  return {
    spec: ctx.spec,
    stateDir: ctx.stateDir,
    signal,
    log: (m) => ctx.log(m),
    record: (r) => ctx.record(r),
    forget: (kind, id) => ctx.forget(kind, id),
    resources: (kind) => ctx.resources(kind),
  };
}

/**
 * Fault actions on the local lab: the apps are our processes (found through the lab state and their
 * argv, never by name), restarted through their own start step; drain/maint go through the runtime
 * API socket of the lab's HAProxy; delay/loss are tc netem on the app's own veth (netns mode). Throws
 * before anything runs when a fault cannot be done here.
 */
export function localFaultActuator(ctx: StepContext): FaultActuator {
  const apps = localApps(ctx.spec);
  return (fault: FaultSpec): FaultHandle => {
    const app = apps.find((a) => a.name === fault.target);
    if (!app) {
      throw new InvalidInputError(
        "FAULT_TARGET_UNKNOWN",
        `Fault '${fault.text}': lab "${ctx.spec.name}" has no backend ${fault.target} (it has ${apps.map((a) => a.name).join(", ")}).`,
        { hint: "Name one of the lab's apps as the fault's target.", details: { fault: fault.text } },
      );
    }
    switch (fault.action) {
      case "stop":
      case "kill":
      case "pause": {
        const step = startAppStep(ctx.spec, app);
        return processFault(fault, {
          pid: () => ownProcessAlive(ctx, appProcess(ctx.spec, app, step.description.id, labAddress(ctx))),
          restart: async () => {
            // The undo runs because of Ctrl-C more often than not: the restart must outlive that
            // abort (its waits are bounded by startTimeoutMs), or Ctrl-C would leave the app down.
            const undoCtx = withSignal(ctx, new AbortController().signal);
            // The fault stopped it: nothing for check to find, the app is started again.
            await step.actions.apply(undoCtx, { done: false, facts: {} });
            await step.actions.verify(undoCtx);
          },
        });
      }
      case "drain":
      case "maint": {
        const socketPath = localStatsSocket(ctx.stateDir);
        if (!socketPath || !existsSync(socketPath)) {
          throw new PreconditionError(
            "FAULT_NO_RUNTIME_API",
            `Fault '${fault.text}' needs HAProxy's runtime API socket${socketPath ? ` ${socketPath}` : ""}, which is not there.`,
            {
              hint: socketPath
                ? "Run `labgate lab up`: it restarts HAProxy with the runtime socket (labs started before this version have none)."
                : "The lab's state dir is too deep for a unix socket path (100 characters): use a shorter --state-dir.",
              details: { fault: fault.text },
            },
          );
        }
        return haproxyAdminFault(fault, {
          socketPath,
          backend: haproxyBackendName(ctx.spec.name),
          server: app.name,
        });
      }
      case "delay":
      case "loss":
        return localNetemFault(fault, netemTarget(ctx, fault, app.name));
      default:
        throw new InvalidInputError("FAULT_INVALID", `Fault '${fault.text}': unknown action.`, {
          details: { fault: fault.text },
        });
    }
  };
}
