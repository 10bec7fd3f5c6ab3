import { displayQuote, PreconditionError } from "@labgate/core";
import { execa } from "execa";
import type { Step, StepContext } from "../../engine/step.js";
import { PortInUseError } from "../../errors.js";
import { detectHaproxy, haproxySupportsHttpCheckSend } from "../../haproxy/haproxy-binary.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { ownLabPids } from "./instance-process.js";
import { forgetCheck, hasPassedCheck, localApps, localOptions, recordPassedCheck } from "./local-lab.js";
import { canListen, conflictingOwners, describePortOwners, findPortOwners } from "./port-owner.js";

export const PREFLIGHT_STEP_ID = "preflight";

interface PreflightFinding {
  ok: boolean;
  lines: string[];
  error?: Error;
}

/** Read-only: python3 and HAProxy present, every port free or held by this lab's own processes. */
async function inspect(ctx: StepContext): Promise<PreflightFinding> {
  const { spec } = ctx;
  const { python, haproxy, bindAddress } = localOptions(spec);
  const lines: string[] = [];
  const py = await execa(python, ["--version"], { all: true, reject: false, timeout: 10_000 }).catch(
    (e: unknown) => e,
  );
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
  // Recorded pids and their children (HAProxy's master-worker listens in a worker).
  const ownPids = await ownLabPids(ctx);
  const ports = [...localApps(spec).map((a) => a.port), spec.lb.port, spec.lb.statsPort];
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

/** Checks the machine before anything is started. Changes nothing. */
export function preflightStep(spec: LabSpec): Step {
  const { python, haproxy, bindAddress } = localOptions(spec);
  const ports = [...localApps(spec).map((a) => a.port), spec.lb.port, spec.lb.statsPort];
  return {
    id: PREFLIGHT_STEP_ID,
    title: "Check this machine: python3, HAProxy and free ports",
    why:
      "The local lab runs everything on this machine: the apps need python3 (standard library only), the load " +
      "balancer needs HAProxy 2.2+, and every port the lab uses must be free. Checking first means a missing " +
      "tool or a busy port is reported before anything is started, with what holds the port.",
    commands: [
      `${displayQuote(python)} --version`,
      `${displayQuote(haproxy)} -vv`,
      `ss -ltn   # ports ${ports.join(", ")} on ${bindAddress} must be free`,
    ],
    diagnostics: [`ss -ltnp`, `${displayQuote(haproxy)} -vv`, `${displayQuote(python)} --version`],
    readOnly: true,
    async check(ctx) {
      const finding = await inspect(ctx);
      if (!finding.ok) return { done: false, detail: finding.error?.message ?? "preflight failed" };
      if (!hasPassedCheck(ctx, PREFLIGHT_STEP_ID)) return { done: false, detail: "not run for this lab yet" };
      return { done: true, detail: finding.lines.join("; ") };
    },
    async apply(ctx) {
      const finding = await inspect(ctx);
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
  };
}
