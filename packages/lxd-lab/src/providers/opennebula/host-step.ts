import { hostError, type OneHost, OpenNebulaError, waitForHostMonitored } from "@labgate/core";
import type { Step, StepContext } from "../../engine/step.js";
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

/** Adds the configured host by name/IP (`onehost create`) and waits for MONITORED. */
export function hostStep(rt: OneLabRuntime, hostName: string): Step {
  return {
    id: "one-host",
    title: `Add host ${hostName} to OpenNebula and wait for MONITORED`,
    why: "OpenNebula only schedules VMs on hosts it monitors. Adding the host makes oned connect to it over SSH as oneadmin and run the monitoring probes; MONITORED means the driver works. ERROR almost always means oneadmin cannot talk to LXD (not in the lxd group, or OpenNebula not restarted after adding it, or snap confinement of oneadmin's home).",
    commands: [
      `one.host.allocate("${hostName}", DRIVER, DRIVER, -1)  # onehost create ${hostName} -i DRIVER -v DRIVER`,
      "one.host.info(ID)",
    ],
    async check(ctx) {
      // Host preparation (just before) may have restarted OpenNebula.
      if (rt.options.hostAccess !== "none" && rt.options.hostPrep) await rt.untilReachable(ctx);
      const host = await rt.client(ctx).findHost(hostName);
      if (!host) return { done: false, detail: `host ${hostName} is not registered` };
      return {
        done: host.stateName === "MONITORED",
        detail: `host ${hostName} (ID ${host.id}) is ${host.stateName}`,
      };
    },
    async apply(ctx) {
      const client = rt.client(ctx);
      let host = await client.findHost(hostName);
      if (!host) {
        const driver =
          rt.options.hostDriver === "auto" ? driverForVersion(await client.version()) : rt.options.hostDriver;
        const id = await client.hostAllocate(hostName, driver, driver, -1);
        await ctx.record({
          kind: "one-host",
          id: String(id),
          stepId: "one-host",
          data: { name: hostName, driver },
        });
        host = await client.hostInfo(id);
      }
      // A host in ERROR gets a grace period: oned re-monitors it, and host preparation may just have fixed it.
      try {
        await waitForHostMonitored(client, host.id, {
          ...rt.waitOptions(ctx, `host ${hostName}`),
          errorGraceMs: rt.options.hostErrorGraceMs,
        });
      } catch (error) {
        if (!(error instanceof OpenNebulaError)) throw error;
        if (error.code !== "ONE_HOST_ERROR" && error.code !== "ONE_TIMEOUT") throw error;
        const now = await client.hostInfo(host.id);
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
    diagnostics: [
      `onehost show ${hostName}`,
      "tail -n 50 /var/log/one/oned.log",
      "getfacl /var/snap/lxd/common/lxd/unix.socket",
      "sudo -u oneadmin env HOME=/home/oneadmin lxc version",
    ],
  };
}
