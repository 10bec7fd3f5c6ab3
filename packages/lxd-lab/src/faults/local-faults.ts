import { existsSync } from "node:fs";
import { InvalidInputError, PreconditionError } from "@labgate/core";
import type { StepContext } from "../engine/step.js";
import { haproxyBackendName } from "../haproxy/render-config.js";
import { appProcess, startAppStep } from "../providers/local/app-steps.js";
import { ownProcessAlive } from "../providers/local/instance-process.js";
import { localStatsSocket } from "../providers/local/lb-step.js";
import { labAddress, localApps } from "../providers/local/local-lab.js";
import type { FaultActuator, FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";
import { haproxyAdminFault, processFault } from "./process-fault.js";

/**
 * Fault actions on the local lab: the apps are our processes (found through the lab state and their
 * argv, never by name), restarted through their own start step; drain/maint go through the runtime
 * API socket of the lab's HAProxy. Throws before anything runs when a fault cannot be done here.
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
          pid: () => ownProcessAlive(ctx, appProcess(ctx.spec, app, step.id, labAddress(ctx))),
          restart: async () => {
            await step.apply(ctx);
            await step.verify(ctx);
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
      default:
        throw new PreconditionError(
          "FAULT_UNSUPPORTED",
          `Fault '${fault.text}': ${fault.action} needs tc netem on the backend's own network namespace, which the local provider does not create.`,
          {
            hint: "Use stop, kill, pause, drain or maint on the local lab, or run delay/loss on an LXD lab.",
            details: { fault: fault.text },
          },
        );
    }
  };
}
