import { hostError, type OneHost, OpenNebulaError, waitForHostMonitored } from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { collectHostDiagnostics, formatDiagnostics } from "../../host-prep/diagnostics.js";
import { resolveHostPrep } from "../../host-prep/types.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";
import { driverForVersion } from "./preflight-step.js";

/**
 * A host in ERROR: with SSH access, the host-prep diagnostics (onehost show, oned.log, socket ACL,
 * lxc as oneadmin, oned's environment) are collected and attached to the error.
 */
async function hostFailure(rt: OneLabRuntime, ctx: StepContext, host: OneHost): Promise<OpenNebulaError> {
  const base = hostError(host);
  const runner = rt.runner();
  if (!runner) return base;
  ctx.log(`  host ${host.name} is ${host.stateName}; collecting diagnostics on ${runner.target}`);
  const diagnostics = await collectHostDiagnostics(
    runner,
    resolveHostPrep({ runner, hostName: host.name }),
    ctx.signal,
  );
  const lines = formatDiagnostics(diagnostics);
  return new OpenNebulaError(base.code, base.message, {
    exitCode: base.exitCode,
    hint: diagnostics.findings[0] ?? base.hint,
    cause: base,
    details: { ...base.details, output: lines.join("\n") },
  });
}

/** one.host.allocate(name, im_mad, vmm_mad, cluster -1): the driver is known at apply (from the version when auto). */
function hostAllocation(hostName: string, driver?: string) {
  const d = driver ?? "DRIVER";
  const call: StepCall = {
    display: `one.host.allocate("${hostName}", ${d}, ${d}, -1)  # onehost create ${hostName} -i ${d} -v ${d}`,
    kind: "xmlrpc",
  };
  return { call, params: [hostName, d, d, -1] as const };
}

/** What the host step's check saw: the host as registered, if it is. */
export interface HostFacts {
  host?: { id: number; state: string };
}

/** Adds the configured host by name/IP (`onehost create`) and waits for MONITORED. */
export function hostStep(rt: OneLabRuntime, hostName: string): LabStep<HostFacts> {
  return {
    description: {
      id: "one-host",
      title: `Add host ${hostName} to OpenNebula and wait for MONITORED`,
      why: "OpenNebula only schedules VMs on hosts it monitors. Adding the host makes oned connect to it over SSH as oneadmin and run the monitoring probes; MONITORED means the driver works. ERROR almost always means oneadmin cannot talk to LXD (not in the lxd group, or OpenNebula not restarted after adding it, or snap confinement of oneadmin's home).",
      calls: [hostAllocation(hostName).call, { display: "one.host.info(ID)", kind: "xmlrpc" }],
      diagnostics: [
        `onehost show ${hostName}`,
        "tail -n 50 /var/log/one/oned.log",
        "getfacl /var/snap/lxd/common/lxd/unix.socket",
        "sudo -u oneadmin env HOME=/home/oneadmin lxc version",
      ],
    },
    actions: {
      async check(ctx) {
        // Host preparation (just before) may have restarted OpenNebula.
        if (rt.options.hostAccess !== "none" && rt.options.hostPrep) await rt.untilReachable(ctx);
        const host = await rt.client(ctx).findHost(hostName);
        if (!host) return { done: false, detail: `host ${hostName} is not registered`, facts: {} };
        return {
          done: host.stateName === "MONITORED",
          detail: `host ${hostName} (ID ${host.id}) is ${host.stateName}`,
          facts: { host: { id: host.id, state: host.stateName } },
        };
      },
      async apply(ctx, found) {
        const client = rt.client(ctx);
        let hostId = found.facts.host?.id;
        if (hostId === undefined) {
          const driver =
            rt.options.hostDriver === "auto"
              ? driverForVersion(await client.version())
              : rt.options.hostDriver;
          const [name, im, vmm, cluster] = hostAllocation(hostName, driver).params;
          hostId = await client.hostAllocate(name, im, vmm, cluster);
          await ctx.record({
            kind: "one-host",
            id: String(hostId),
            stepId: "one-host",
            data: { name: hostName, driver },
          });
        }
        // A host in ERROR gets a grace period: oned re-monitors it, and host preparation may just have fixed it.
        try {
          await waitForHostMonitored(client, hostId, {
            ...rt.waitOptions(ctx, `host ${hostName}`),
            errorGraceMs: rt.options.hostErrorGraceMs,
          });
        } catch (error) {
          if (!(error instanceof OpenNebulaError)) throw error;
          if (error.code !== "ONE_HOST_ERROR" && error.code !== "ONE_TIMEOUT") throw error;
          const now = await client.hostInfo(hostId);
          if (error.code === "ONE_HOST_ERROR" || now.stateName.endsWith("ERROR"))
            throw await hostFailure(rt, ctx, now);
          throw error;
        }
      },
      async verify(ctx) {
        const host = await rt.client(ctx).findHost(hostName);
        if (host?.stateName !== "MONITORED") {
          if (host) throw hostError(host);
          throw new OpenNebulaError(
            "ONE_NOT_FOUND",
            `Host ${hostName} is no longer in OpenNebula (\`onehost list\` does not show it).`,
            {
              hint: "Someone removed it after labgate added it: run `labgate lab up` again to add it back.",
              details: { host: hostName },
            },
          );
        }
      },
      async undo(ctx) {
        // A host is infrastructure the user may share with other labs: labgate never removes it.
        for (const r of ctx.resources("one-host")) await ctx.forget("one-host", r.id);
      },
    },
  };
}
