import { sleep } from "@labgate/core";
import type { StepCall } from "../engine/plan-step.js";
import type { LabStep, StepContext } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { collectHostDiagnostics, formatDiagnostics } from "./diagnostics.js";
import type { HostRecord, HostRegistry, ResolvedHostPrep } from "./types.js";

const ADD_ID = "host-add";
const WAIT_ID = "host-monitored";

function registry(o: ResolvedHostPrep, ctx: StepContext): HostRegistry {
  if (!o.hosts) throw new StepFailedError(ADD_ID, "No OpenNebula connection was given to host preparation.");
  return o.hosts(ctx);
}

/** What check saw: the host of that name, when OpenNebula has one. */
export interface AddHostFacts {
  existing: { id: number; stateName: string } | undefined;
}

/** `onehost create <ip> -i lxd -v lxd` unless a host of that name exists. */
export function addHostStep(o: ResolvedHostPrep, hostName: string): LabStep<AddHostFacts> {
  // The call as shown and as made: one.host.allocate with the name and the driver twice (IM and VMM).
  const allocate = {
    call: {
      display: `onehost create ${hostName} -i ${o.driver} -v ${o.driver}   # one.host.allocate`,
      kind: "xmlrpc",
    } satisfies StepCall,
    send: (hosts: HostRegistry) => hosts.hostAllocate(hostName, o.driver, o.driver),
  };
  return {
    description: {
      id: ADD_ID,
      title: `Add ${hostName} to OpenNebula as a ${o.driver.toUpperCase()} host`,
      why: `OpenNebula only places VMs on hosts it knows. The host is added by IP with the ${o.driver} information and virtualization drivers (lxd up to OpenNebula 6.8, lxc from 6.10). Looked up by name first, so running again adds nothing.`,
      calls: [allocate.call],
    },
    actions: {
      async check(ctx) {
        const host = await registry(o, ctx).findHost(hostName);
        return host
          ? {
              done: true,
              detail: `host ${hostName} is ID ${host.id} (${host.stateName})`,
              facts: { existing: host },
            }
          : { done: false, detail: `${hostName} is not registered`, facts: { existing: undefined } };
      },
      async apply(ctx, found) {
        if (found.facts.existing) return;
        const id = await allocate.send(registry(o, ctx));
        await ctx.record({
          kind: "one-host",
          id: String(id),
          stepId: ADD_ID,
          data: { name: hostName, driver: o.driver },
        });
        ctx.log(`  host ${hostName} added as ID ${id}`);
      },
      async verify(ctx) {
        if (!(await registry(o, ctx).findHost(hostName)))
          throw new StepFailedError(ADD_ID, `${hostName} is not in OpenNebula's host pool after adding it.`);
      },
      async undo(ctx) {
        const hosts = registry(o, ctx);
        for (const r of ctx.resources("one-host").filter((x) => x.stepId === ADD_ID)) {
          if (hosts.hostDelete) await hosts.hostDelete(Number(r.id));
          else ctx.log(`  remove host ${r.id} by hand if nothing else uses it: onehost delete ${r.id}`);
          await ctx.forget("one-host", r.id);
        }
      },
    },
  };
}

/** Waits for MONITORED; a host that stays in ERROR gets the diagnostics collected and shown. */
export function waitMonitoredStep(o: ResolvedHostPrep, hostName: string): LabStep<undefined> {
  const current = async (ctx: StepContext): Promise<HostRecord | undefined> => {
    const hosts = registry(o, ctx);
    const found = await hosts.findHost(hostName);
    return found ? hosts.hostInfo(found.id) : undefined;
  };
  const failWithDiagnostics = async (ctx: StepContext, host: HostRecord, why: string): Promise<never> => {
    ctx.log(`  host ${hostName} ${why}; collecting diagnostics on the host`);
    const diagnostics = await collectHostDiagnostics(o.runner(ctx), o, ctx.signal);
    const lines = formatDiagnostics(diagnostics);
    for (const line of lines) ctx.log(line);
    throw new StepFailedError(
      WAIT_ID,
      `Host ${hostName} (ID ${host.id}) ${why}${host.error ? `: ${host.error}` : ""}.\n${lines.join("\n")}`,
      {
        hint:
          diagnostics.findings[0] ?? "Read the diagnostics above; oned.log usually names the failing probe.",
        details: { hostId: host.id, state: host.stateName, error: host.error, diagnostics },
      },
    );
  };
  return {
    description: {
      id: WAIT_ID,
      title: `Wait for ${hostName} to be MONITORED`,
      why: "MONITORED means oned reached the host and its probes could talk to LXD as oneadmin. A host that stays in ERROR gets the usual suspects collected: onehost show, oned.log, the socket's ACL, lxc as oneadmin, and oned's environment.",
      calls: [{ display: `onehost show ${hostName}   # until STATE is MONITORED`, kind: "xmlrpc" }],
      diagnostics: [
        `onehost show ${hostName}`,
        `tail -n 40 ${o.onedLog}`,
        "getfacl /var/snap/lxd/common/lxd/unix.socket",
        `sudo -u ${o.user} env HOME=${o.overrideHome} lxc version`,
        `cat /proc/$(pgrep -o ${o.daemon})/environ | tr '\\0' '\\n'`,
      ],
    },
    actions: {
      async check(ctx) {
        const host = await current(ctx);
        return {
          done: host?.stateName === "MONITORED",
          detail: host ? `${hostName} is ${host.stateName}` : `${hostName} is not registered`,
        };
      },
      async apply(ctx) {
        const started = Date.now();
        let errorSince: number | undefined;
        let last = "";
        for (;;) {
          const host = await current(ctx);
          if (!host)
            throw new StepFailedError(WAIT_ID, `${hostName} is not registered in OpenNebula.`, {
              hint: "Run the host-add step first.",
            });
          if (host.stateName === "MONITORED") return;
          if (host.stateName !== last) ctx.log(`  ${hostName}: ${host.stateName}`);
          last = host.stateName;
          errorSince = host.stateName === "ERROR" ? (errorSince ?? Date.now()) : undefined;
          if (errorSince !== undefined && Date.now() - errorSince >= o.errorGraceMs) {
            await failWithDiagnostics(
              ctx,
              host,
              `stayed in ERROR for ${Math.round((Date.now() - errorSince) / 1000)} s`,
            );
          }
          if (Date.now() - started >= o.monitorTimeoutMs) {
            await failWithDiagnostics(
              ctx,
              host,
              `is still ${host.stateName} after ${Math.round(o.monitorTimeoutMs / 1000)} s`,
            );
          }
          await sleep(o.pollIntervalMs, ctx.signal);
        }
      },
      async verify(ctx) {
        const host = await current(ctx);
        if (host?.stateName !== "MONITORED") {
          throw new StepFailedError(
            WAIT_ID,
            `${hostName} is ${host?.stateName ?? "not registered"}, not MONITORED.`,
          );
        }
      },
      async undo() {},
    },
  };
}
