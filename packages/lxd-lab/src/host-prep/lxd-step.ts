import type { StepDescription } from "../engine/plan-step.js";
import type { LabStep } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { hostCall, runHostCall } from "./host-call.js";
import { type LxdProbe, probeLxd, probeSnapd } from "./probes.js";
import type { HostCommandRunner, ResolvedHostPrep } from "./types.js";

const ID = "host-lxd";

function describeProbe(p: LxdProbe): string {
  if (!p.installed) return "LXD is not installed";
  if (!p.server)
    return `LXD ${p.version ?? "?"} is installed but its daemon does not answer (lxc version: ${p.output || "no output"})`;
  if (!p.socket) return `LXD ${p.server} answers but no socket was found at the usual paths`;
  return `LXD ${p.server} is running, socket ${p.socket}`;
}

async function installMethod(
  runner: HostCommandRunner,
  wanted: ResolvedHostPrep["lxdInstall"],
): Promise<"snap" | "apt"> {
  if (wanted !== "auto") return wanted;
  return (await probeSnapd(runner)) ? "snap" : "apt";
}

/** What check saw: LXD's state, and how it is installed or started here (snap when snapd is there). */
export interface LxdFacts {
  probe: LxdProbe;
  method: "snap" | "apt";
}

const INSTALL_TIMEOUT_MS = 600_000;

/** The host's LXD commands, each the argv it runs and the line it shows. */
function lxdCalls() {
  const sudo = { sudo: true } as const;
  return {
    version: hostCall("lxc", ["version"], sudo, { kind: "probe" }),
    snap: {
      install: hostCall("snap", ["install", "lxd"], sudo),
      start: hostCall("snap", ["start", "--enable", "lxd"], sudo),
    },
    apt: {
      install: hostCall("apt-get", ["install", "-y", "lxd"], {
        sudo: true,
        env: { DEBIAN_FRONTEND: "noninteractive" },
      }),
      start: hostCall("systemctl", ["enable", "--now", "lxd.socket", "lxd.service"], sudo),
    },
    waitready: hostCall("lxd", ["waitready", "--timeout=60"], sudo),
  };
}

/** LXD installed (snap or apt) and its daemon answering on its socket. */
export function lxdInstalledStep(o: ResolvedHostPrep): LabStep<LxdFacts> {
  const calls = lxdCalls();
  const install = (method: "snap" | "apt", installed: boolean) => [
    ...(installed ? [] : [calls[method].install]),
    calls[method].start,
  ];
  const description: StepDescription = {
    id: ID,
    title: "LXD is installed and running on the host",
    why: "OpenNebula's LXD/LXC driver drives containers through the LXD daemon on the host. Without a running daemon and its unix socket, monitoring fails and the host goes to ERROR. Installed from the snap when snapd is there (what Ubuntu ships), else from the distribution package.",
    calls: [
      calls.version.call,
      ...(o.lxdInstall === "apt" ? [] : install("snap", false).map((c) => c.call)),
      ...(o.lxdInstall === "snap" ? [] : install("apt", false).map((c) => c.call)),
      calls.waitready.call,
    ],
    diagnostics: [
      "snap services lxd",
      "journalctl -u lxd -n 50",
      "ls -l /var/snap/lxd/common/lxd/unix.socket /var/lib/lxd/unix.socket",
    ],
  };
  return {
    description,
    // Once checked: only the way this host installs (or just starts) LXD.
    current: (_ctx, found) =>
      found?.facts
        ? {
            ...description,
            calls: [
              calls.version.call,
              ...install(found.facts.method, found.facts.probe.installed).map((c) => c.call),
              calls.waitready.call,
            ],
          }
        : description,
    actions: {
      async check(ctx) {
        const runner = o.runner(ctx);
        const probe = await probeLxd(runner);
        const method = await installMethod(runner, o.lxdInstall);
        return {
          done: probe.installed && Boolean(probe.server) && Boolean(probe.socket),
          detail: describeProbe(probe),
          facts: { probe, method },
        };
      },
      async apply(ctx, found) {
        const runner = o.runner(ctx);
        const { probe, method } = found.facts;
        if (!probe.installed)
          ctx.log(`  installing LXD ${method === "snap" ? "from the snap store" : "with apt-get"}`);
        for (const c of install(method, probe.installed)) {
          const timeout = c === calls[method].install ? { timeoutMs: INSTALL_TIMEOUT_MS } : {};
          await runHostCall(runner, c, { signal: ctx.signal, ...timeout });
        }
        await runHostCall(runner, calls.waitready, { signal: ctx.signal, timeoutMs: 70_000 });
      },
      async verify(ctx) {
        const p = await probeLxd(o.runner(ctx));
        if (!p.installed || !p.server || !p.socket) {
          throw new StepFailedError(ID, `${describeProbe(p)}.`, {
            hint: "Look at `snap logs lxd` (snap) or `journalctl -u lxd` (apt) on the host.",
            details: { lxcVersion: p.output },
          });
        }
      },
      async undo(ctx) {
        // LXD may host other containers: it is the user's, labgate never removes it.
        ctx.log("  LXD is left installed");
      },
    },
  };
}
