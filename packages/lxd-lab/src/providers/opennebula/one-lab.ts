import { InvalidInputError, oneNodeState, PreconditionError } from "@labgate/core";
import type {
  LabProvider,
  LabStep,
  LabVerifyOptions,
  LabVerifyResult,
  ResourceHealth,
  StepContext,
} from "../../engine/step.js";
import { hostPrepSteps } from "../../host-prep/host-prep-steps.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { exposeStep } from "./expose-step.js";
import { hostStep } from "./host-step.js";
import { imageStep } from "./image-step.js";
import { addressesStep, vnetStep } from "./network-steps.js";
import { oneLabOptions } from "./one-lab-options.js";
import { type OneLabDeps, OneLabRuntime } from "./one-lab-runtime.js";
import { preflightStep } from "./preflight-step.js";
import { sshAccessStep } from "./ssh-access-step.js";
import { templateStep } from "./template-steps.js";
import { runVerify, verifyStep } from "./verify-step.js";
import { virtualBoxNatStep } from "./virtualbox-step.js";
import { instanceStep } from "./vm-steps.js";

/**
 * The lab on OpenNebula with an LXD (≤ 6.8) or LXC (6.10+) host: preflight, optional host
 * preparation over SSH, host, addresses, VNet, image, templates, apps, LB, exposure, round robin.
 * Every step looks up by name before creating, so re-running changes nothing.
 */
export function createOpenNebulaProvider(deps: OneLabDeps = {}): LabProvider {
  const runtimes = new Map<string, OneLabRuntime>();
  const runtime = (spec: LabSpec) => {
    const key = JSON.stringify(spec);
    let rt = runtimes.get(key);
    if (!rt) {
      rt = new OneLabRuntime(oneLabOptions(spec), deps);
      runtimes.set(key, rt);
    }
    return rt;
  };
  return {
    name: "opennebula",
    plan(spec: LabSpec): LabStep[] {
      const rt = runtime(spec);
      const o = rt.options;
      const steps: LabStep[] = [preflightStep(rt)];
      // Before any command runs on the host over SSH: its key verified (or accepted at this step's gate).
      if (o.ssh) steps.push(sshAccessStep(rt));
      if (o.hostAccess !== "none" && o.hostPrep) {
        const runner = () => {
          const r = rt.runner();
          if (!r)
            throw new PreconditionError(
              "ONE_NO_HOST_ACCESS",
              "Host preparation needs access to the LXD host.",
              {
                hint: "Set providerOptions.ssh, or providerOptions.hostAccess: local when labgate runs on the host.",
              },
            );
          return r;
        };
        // LXD installed, oneadmin in lxd, snap home fix, OpenNebula restarted; adding the host and
        // waiting for MONITORED is the one-host step, which picks the driver from the version.
        steps.push(...(deps.hostPrepSteps ? deps.hostPrepSteps(o, runner) : hostPrepSteps({ runner })));
      }
      if (o.hostName) steps.push(hostStep(rt, o.hostName));
      steps.push(
        addressesStep(rt),
        vnetStep(rt),
        imageStep(rt),
        templateStep(rt, "app"),
        templateStep(rt, "lb"),
      );
      for (const app of o.apps) steps.push(instanceStep(rt, app));
      steps.push(instanceStep(rt, o.lb));
      if (o.expose && o.hostAccess !== "none") steps.push(exposeStep(rt));
      // The last mile when the host is a VirtualBox VM: only the person can add the NAT rule on the laptop.
      if (o.virtualbox && o.expose) steps.push(virtualBoxNatStep(o.virtualbox, o.expose.port));
      steps.push(verifyStep(rt));
      return steps;
    },
    async status(ctx: StepContext): Promise<ResourceHealth[]> {
      const client = runtime(ctx.spec).client(ctx);
      const out: ResourceHealth[] = [];
      for (const r of ctx.resources("one-vm")) {
        try {
          const vm = await client.vmInfo(Number(r.id));
          out.push({
            kind: "one-vm",
            id: r.id,
            health: oneNodeState(vm) === "running" ? "healthy" : "unhealthy",
            detail: `${vm.name} ${vm.label}`,
          });
        } catch (error) {
          out.push({ kind: "one-vm", id: r.id, health: "unknown", detail: (error as Error).message });
        }
      }
      return out;
    },
    endpoint(spec: LabSpec): string {
      const expose = runtime(spec).options.expose;
      if (expose) return `http://${expose.address}:${expose.port}/`;
      // Without exposure the LB's address comes from the IP pool at run time; plan-time code cannot know it.
      throw new InvalidInputError(
        "ONE_NO_ENDPOINT",
        "This OpenNebula lab does not expose its load balancer.",
        {
          hint: "Set lb.expose { address, port } (and providerOptions.ssh) so the host forwards a port to the LB, or run `labgate lab status` for the LB's address.",
        },
      );
    },
    verify(ctx: StepContext, options: LabVerifyOptions): Promise<LabVerifyResult> {
      return runVerify(runtime(ctx.spec), ctx, options.requests);
    },
  };
}

export const openNebulaProvider: LabProvider = createOpenNebulaProvider();
