import type { LabStep } from "../engine/step.js";
import { oneadminGroupStep } from "./group-step.js";
import { lxdInstalledStep } from "./lxd-step.js";
import { addHostStep, waitMonitoredStep } from "./register-steps.js";
import { restartOpenNebulaStep } from "./restart-step.js";
import { snapHomeStep } from "./snap-home-step.js";
import { type HostPrepOptions, resolveHostPrep } from "./types.js";

/**
 * Pure: the host-preparation steps in order. LXD installed and running, oneadmin in lxd, the snap home fix,
 * OpenNebula restarted, then (when an OpenNebula registry and host name are given) the host added by IP and
 * waited for until MONITORED, with diagnostics when it stays in ERROR. No I/O until a step runs.
 */
export function hostPrepSteps(options: HostPrepOptions): LabStep[] {
  const o = resolveHostPrep(options);
  const steps: LabStep[] = [
    lxdInstalledStep(o),
    oneadminGroupStep(o),
    snapHomeStep(o),
    restartOpenNebulaStep(o),
  ];
  if (o.hosts && o.hostName) steps.push(addHostStep(o, o.hostName), waitMonitoredStep(o, o.hostName));
  return steps;
}
