import { displayQuote, PreconditionError } from "@labgate/core";
import { execa } from "execa";
import type { LabStep, StepContext } from "../../engine/step.js";
import { PortInUseError } from "../../errors.js";
import { detectHaproxy, haproxySupportsHttpCheckSend } from "../../haproxy/haproxy-binary.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { ownLabPids } from "./instance-process.js";
import { forgetCheck, hasPassedCheck, localApps, localOptions, recordPassedCheck } from "./local-lab.js";
import { inspectNetns, ownMissingNetnsCapabilities, rangeClashes, runIp } from "./netns-link.js";
import { labNetns } from "./netns-plan.js";
import { ownsNetns } from "./netns-step.js";
import { canListen, conflictingOwners, describePortOwners, findPortOwners } from "./port-owner.js";
import { command, displayArgv, probe } from "./process-calls.js";

export const PREFLIGHT_STEP_ID = "preflight";

export interface PreflightFinding {
  ok: boolean;
  lines: string[];
  error?: Error;
}

/** Read-only: python3 and HAProxy present, every port free or held by this lab's own processes. */
async function inspect(ctx: StepContext): Promise<PreflightFinding> {
  const { spec } = ctx;
  const { python, haproxy, bindAddress } = localOptions(spec);
  const lines: string[] = [];
  const [py0, ...pyArgs] = pythonVersionArgv(python);
  const py = await execa(py0, pyArgs, { all: true, reject: false, timeout: 10_000 }).catch((e: unknown) => e);
  const pyOut =
    typeof py === "object" && py !== null && "all" in py ? String((py as { all?: string }).all ?? "") : "";
  if (!/Python 3\./.test(pyOut)) {
    return {
      ok: false,
      lines,
      error: new PreconditionError(
        "PYTHON_MISSING",
        `python3 is needed to run the app instances, but \`${python} --version\` failed.`,
        {
          hint: "Install it: `sudo apt-get install -y python3`.",
        },
      ),
    };
  }
  lines.push(pyOut.trim());
  let info: Awaited<ReturnType<typeof detectHaproxy>>;
  try {
    info = await detectHaproxy(haproxy);
  } catch (error) {
    return { ok: false, lines, error: error as Error };
  }
  if (!haproxySupportsHttpCheckSend(info)) {
    return {
      ok: false,
      lines,
      error: new PreconditionError(
        "HAPROXY_TOO_OLD",
        `HAProxy ${info.version} is too old; labgate needs 2.2 or newer.`,
        {
          hint: "Install a current HAProxy (Debian 12 / Ubuntu 22.04 ship 2.6 / 2.4).",
        },
      ),
    };
  }
  lines.push(`HAProxy ${info.version}${info.prometheus ? " (Prometheus exporter built in)" : ""}`);
  const netnsProblem = await inspectNetnsPrerequisites(ctx, lines);
  if (netnsProblem) return { ok: false, lines, error: netnsProblem };
  // Recorded pids and their children (HAProxy's master-worker listens in a worker).
  const ownPids = await ownLabPids(ctx);
  const ports = hostPorts(spec);
  const duplicate = ports.find((p, i) => ports.indexOf(p) !== i);
  if (duplicate !== undefined) {
    return {
      ok: false,
      lines,
      error: new PortInUseError(
        `Port ${duplicate} is used twice in the lab spec.`,
        "Give every app, the LB and the stats page their own port.",
        { port: duplicate },
      ),
    };
  }
  for (const port of ports) {
    if (await canListen(bindAddress, port)) continue;
    // Only listeners whose address collides with ours matter: an unrelated [::1]:PORT does not stop 127.0.0.1:PORT.
    const owners = conflictingOwners(await findPortOwners(port), bindAddress);
    if (owners.length > 0 && owners.every((o) => o.pid !== undefined && ownPids.has(o.pid))) {
      lines.push(`port ${port}: held by this lab (pid ${owners.map((o) => o.pid).join(", ")})`);
      continue;
    }
    return {
      ok: false,
      lines,
      error: new PortInUseError(
        `Port ${bindAddress}:${port} is already in use by ${describePortOwners(owners)}.`,
        `Stop that process, or choose other ports in the lab spec (apps.ports, lb.port, lb.statsPort). See \`ss -ltnp 'sport = :${port}'\`.`,
        { port, address: bindAddress, owners },
      ),
    };
  }
  lines.push(`ports ${ports.join(", ")} on ${bindAddress}: free or ours`);
  return { ok: true, lines };
}

/** What preflight runs to see python3 (the plan shows the same argv). */
function pythonVersionArgv(python: string): [string, ...string[]] {
  return [python, "--version"];
}

/** Ports on the lab's address: an app in its own namespace holds none of them. */
function hostPorts(spec: LabSpec): number[] {
  const netns = localOptions(spec).netns;
  return [...(netns ? [] : localApps(spec).map((a) => a.port)), spec.lb.port, spec.lb.statsPort];
}

/**
 * providerOptions.netns: the capabilities to make namespaces and links, `ip` itself, no namespace or
 * interface of the lab's names that labgate did not make, and no host network on the links' range.
 */
async function inspectNetnsPrerequisites(ctx: StepContext, lines: string[]): Promise<Error | undefined> {
  const links = labNetns(ctx.spec);
  if (links.length === 0) return undefined;
  const { netnsRange } = localOptions(ctx.spec);
  const missing = await ownMissingNetnsCapabilities();
  if (missing.length > 0) {
    return new PreconditionError(
      "NETNS_NEEDS_ROOT",
      `providerOptions.netns needs root: making network namespaces and veth links takes ${missing.join(" and ")}, which this process lacks.`,
      {
        hint: "Run the lab as root (`sudo labgate lab up`), or leave providerOptions.netns out: everything but delay/loss faults works without it.",
        details: { missing },
      },
    );
  }
  const version = await runIp(["-V"]).catch(() => undefined);
  if (!version?.ok) {
    return new PreconditionError(
      "IPROUTE2_MISSING",
      "providerOptions.netns needs the `ip` command (iproute2).",
      {
        hint: "Install it: `sudo apt-get install -y iproute2`.",
      },
    );
  }
  lines.push(`${version.stdout.trim()}; running with CAP_NET_ADMIN and CAP_SYS_ADMIN`);
  const records = ctx.resources("netns");
  const own = new Set<string>();
  for (const n of links) {
    const record = records.find((r) => r.id === n.netns);
    const live = await inspectNetns(n);
    if (live.inode !== undefined && !ownsNetns(record, live)) {
      return new PreconditionError(
        "NETNS_EXISTS",
        `Network namespace ${n.netns} already exists and labgate did not make it.`,
        {
          hint: `Rename the lab (spec "name"), or remove the namespace if it is a leftover: ip netns del ${n.netns}`,
          details: { netns: n.netns },
        },
      );
    }
    if (live.hostIfindex !== undefined && record?.data?.["vethIfindex"] !== live.hostIfindex) {
      return new PreconditionError(
        "NETNS_INTERFACE_EXISTS",
        `Interface ${n.vethHost} already exists and labgate did not make it.`,
        {
          hint: `See \`ip -d link show ${n.vethHost}\`; rename the lab (spec "name") so its links get other names.`,
          details: { interface: n.vethHost },
        },
      );
    }
    if (live.hostIfindex !== undefined) own.add(n.vethHost);
  }
  const clashes = await rangeClashes(netnsRange, own);
  if (clashes.length > 0) {
    return new PreconditionError(
      "NETNS_RANGE_CLASH",
      `providerOptions.netnsRange ${netnsRange} overlaps networks of this machine: ${clashes.join(", ")}.`,
      {
        hint: 'Set providerOptions.netnsRange to a private range nothing here uses, e.g. "10.252.0.0/24" (see `ip -4 addr` and `ip -4 route`).',
        details: { range: netnsRange, clashes },
      },
    );
  }
  lines.push(
    `links ${links.map((n) => `${n.app} ${n.link}`).join(", ")} (${netnsRange}): no clash with this machine's networks`,
  );
  return undefined;
}

/** Checks the machine before anything is started. Changes nothing. */
export function preflightStep(spec: LabSpec): LabStep<PreflightFinding> {
  const { python, haproxy, bindAddress } = localOptions(spec);
  const ports = hostPorts(spec);
  const links = labNetns(spec);
  return {
    description: {
      id: PREFLIGHT_STEP_ID,
      title: `Check this machine: python3, HAProxy and free ports${links.length ? "; root and a free range for the apps' namespaces" : ""}`,
      why:
        "The local lab runs everything on this machine: the apps need python3 (standard library only), the load " +
        "balancer needs HAProxy 2.2+, and every port the lab uses must be free. Checking first means a missing " +
        "tool or a busy port is reported before anything is started, with what holds the port.",
      calls: [
        command(displayArgv(pythonVersionArgv(python), "")),
        // detectHaproxy runs `<haproxy> -vv`.
        command(displayArgv([haproxy, "-vv"], "")),
        // The rest is read in-process (a test bind, /proc); shown as the commands that see the same.
        probe(`ss -ltn   # ports ${ports.join(", ")} on ${bindAddress} must be free`),
        ...(links.length
          ? [
              probe("grep CapEff /proc/self/status   # CAP_NET_ADMIN and CAP_SYS_ADMIN (root)"),
              probe(
                `ip netns list; ip -br link   # no ${links.map((n) => `${n.netns}/${n.vethHost}`).join(", ")} labgate did not make`,
              ),
              probe(
                `ip -j addr show; ip -j -4 route show table main   # nothing on ${localOptions(spec).netnsRange}`,
              ),
            ]
          : []),
      ],
      diagnostics: [`ss -ltnp`, `${displayQuote(haproxy)} -vv`, `${displayQuote(python)} --version`],
      readOnly: true,
    },
    actions: {
      async check(ctx) {
        const finding = await inspect(ctx);
        if (!finding.ok)
          return { done: false, detail: finding.error?.message ?? "preflight failed", facts: finding };
        if (!hasPassedCheck(ctx, PREFLIGHT_STEP_ID))
          return { done: false, detail: "not run for this lab yet", facts: finding };
        return { done: true, detail: finding.lines.join("; "), facts: finding };
      },
      async apply(ctx, found) {
        // What check just saw is the finding: the machine is not inspected twice in one run.
        const finding = found.facts;
        if (finding.error) throw finding.error;
        for (const line of finding.lines) ctx.log(`  ${line}`);
        await recordPassedCheck(ctx, PREFLIGHT_STEP_ID, PREFLIGHT_STEP_ID, finding.lines.join("; "));
      },
      async verify(ctx) {
        const finding = await inspect(ctx);
        if (finding.error) throw finding.error;
      },
      async undo(ctx) {
        // Nothing on the machine was changed; only the record of the passed check goes.
        await forgetCheck(ctx, PREFLIGHT_STEP_ID);
      },
    },
  };
}
