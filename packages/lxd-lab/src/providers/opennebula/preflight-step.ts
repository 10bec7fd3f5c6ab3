import { ExitCode, hostError, type OpenNebulaClient, OpenNebulaError } from "@labgate/core";
import type { LabStep, StepContext } from "../../engine/step.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

/** OpenNebula 6.10 removed the LXD driver; containers run with LXC from then on. */
export function driverForVersion(version: string): "lxd" | "lxc" {
  const [major = 0, minor = 0] = version.split(".").map((x) => Number.parseInt(x, 10));
  return major > 6 || (major === 6 && minor >= 10) ? "lxc" : "lxd";
}

export interface PreflightFacts {
  version: string;
  driver: "lxd" | "lxc";
  host?: { id: number; name: string; state: string };
}

/** Read-only probe: endpoint, credentials, version, driver, host. Throws the precise error. */
export async function preflight(rt: OneLabRuntime, client: OpenNebulaClient): Promise<PreflightFacts> {
  const version = await client.version();
  const supported = driverForVersion(version);
  const wanted = rt.options.hostDriver === "auto" ? supported : rt.options.hostDriver;
  // share/etc/oned.conf: the lxc VM driver exists from 6.0 on; only lxd was removed (in 6.10).
  const [major = 0] = version.split(".").map((x) => Number.parseInt(x, 10));
  const lxcToo = wanted === "lxc" && major >= 6;
  if (wanted !== supported && !lxcToo) {
    throw new OpenNebulaError(
      "ONE_DRIVER_UNSUPPORTED",
      `OpenNebula ${version} runs containers with the ${supported} driver, but providerOptions.hostDriver is ${wanted}.`,
      {
        exitCode: ExitCode.PRECONDITION,
        hint:
          supported === "lxc"
            ? "OpenNebula 6.10 removed the LXD driver: set hostDriver: lxc (or auto) and use an LXC host."
            : "OpenNebula before 6.0 has no LXC driver: set hostDriver: lxd (or auto).",
      },
    );
  }
  const hosts = await client.hostPool();
  if (rt.options.hostName) {
    const host = hosts.find((h) => h.name === rt.options.hostName);
    if (!host) {
      if (rt.options.addHost) return { version, driver: wanted };
      throw new OpenNebulaError(
        "ONE_HOST_MISSING",
        `Host ${rt.options.hostName} is not registered in OpenNebula.`,
        {
          exitCode: ExitCode.PRECONDITION,
          hint: "Set providerOptions.addHost: true to add it, or `onehost create HOST -i lxd -v lxd` by hand.",
        },
      );
    }
    // With SSH access the host-preparation steps that follow are what repairs a host in ERROR (lxd group,
    // restart, snap home): stopping here would make the lab unable to fix the very problem it knows how to.
    if ((host.stateName === "ERROR" || host.stateName === "MONITORING_ERROR") && !rt.options.ssh)
      throw hostError(host);
    return { version, driver: wanted, host: { id: host.id, name: host.name, state: host.stateName } };
  }
  const usable = hosts.find((h) => h.stateName === "MONITORED" && h.vmMad === wanted);
  if (!usable) {
    const broken = hosts.find(
      (h) => h.vmMad === wanted && (h.stateName === "ERROR" || h.stateName === "MONITORING_ERROR"),
    );
    if (broken) throw hostError(broken);
    throw new OpenNebulaError(
      "ONE_NO_HOST",
      `No MONITORED ${wanted} host in OpenNebula (${hosts.length} hosts listed).`,
      {
        exitCode: ExitCode.PRECONDITION,
        hint: "Set providerOptions.hostName (and ssh) so labgate prepares and adds the host, or add one with `onehost create`.",
        details: { hosts: hosts.map((h) => `${h.name}:${h.vmMad}:${h.stateName}`) },
      },
    );
  }
  return { version, driver: wanted, host: { id: usable.id, name: usable.name, state: usable.stateName } };
}

function describe(f: PreflightFacts, endpoint: string): string {
  const repair = f.host && f.host.state !== "MONITORED" ? " (host preparation over SSH follows)" : "";
  return `OpenNebula ${f.version} at ${endpoint}, driver ${f.driver}${f.host ? `, host ${f.host.name} ${f.host.state}${repair}` : ", host to be added"}`;
}

export function preflightStep(rt: OneLabRuntime): LabStep<undefined> {
  const run = async (ctx: StepContext) => {
    const client = rt.client(ctx);
    return describe(await preflight(rt, client), client.endpoint);
  };
  return {
    description: {
      id: "one-preflight",
      readOnly: true,
      title: "Check OpenNebula: endpoint, credentials, version, host",
      why: "Before creating anything, labgate makes sure the OpenNebula front-end answers on its XML-RPC port, accepts your credentials, runs a version whose container driver matches your host (LXD up to 6.8, LXC from 6.10), and has a host that is MONITORED. A host in ERROR is reported here, not after ten minutes of waiting on a VM that can never be scheduled — unless labgate has SSH access to it, in which case the host-preparation steps that follow are what repairs it.",
      calls: [
        { display: "one.system.version", kind: "xmlrpc" },
        { display: "one.hostpool.info", kind: "xmlrpc" },
      ],
      diagnostics: [
        "curl -s http://FRONTEND:2633/RPC2 (connection refused = oned not running or firewalled)",
        "oneuser show (on the front-end, with the same credentials)",
        "onehost list",
      ],
    },
    actions: {
      async check(ctx) {
        // The probe is read-only, so it runs on every `lab up`: a preflight that passed yesterday
        // says nothing about today. When it fails, apply runs it again and reports the precise error.
        try {
          return { done: true, detail: await run(ctx), facts: undefined };
        } catch {
          return { done: false, facts: undefined };
        }
      },
      async apply(ctx) {
        ctx.log(`  ${await run(ctx)}`);
      },
      async verify(ctx) {
        await run(ctx);
      },
      async undo() {},
    },
  };
}
