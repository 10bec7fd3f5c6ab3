import type { Step, StepContext } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { type LxdProbe, probeLxd, probeSnapd } from "./probes.js";
import { show } from "./show.js";
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

/** LXD installed (snap or apt) and its daemon answering on its socket. */
export function lxdInstalledStep(o: ResolvedHostPrep): Step {
  const snapCommands = [
    show("snap", ["install", "lxd"], { sudo: true }),
    show("snap", ["start", "--enable", "lxd"], { sudo: true }),
  ];
  const aptCommands = [
    show("apt-get", ["install", "-y", "lxd"], { sudo: true, env: { DEBIAN_FRONTEND: "noninteractive" } }),
    show("systemctl", ["enable", "--now", "lxd.socket", "lxd.service"], { sudo: true }),
  ];
  return {
    id: ID,
    title: "LXD is installed and running on the host",
    why: "OpenNebula's LXD/LXC driver drives containers through the LXD daemon on the host. Without a running daemon and its unix socket, monitoring fails and the host goes to ERROR. Installed from the snap when snapd is there (what Ubuntu ships), else from the distribution package.",
    commands: [
      show("lxc", ["version"], { sudo: true }),
      ...(o.lxdInstall === "apt" ? [] : snapCommands),
      ...(o.lxdInstall === "snap" ? [] : aptCommands),
      show("lxd", ["waitready", "--timeout=60"], { sudo: true }),
    ],
    async check(ctx) {
      const p = await probeLxd(o.runner(ctx));
      return { done: p.installed && Boolean(p.server) && Boolean(p.socket), detail: describeProbe(p) };
    },
    async apply(ctx: StepContext) {
      const runner = o.runner(ctx);
      const before = await probeLxd(runner);
      const method = await installMethod(runner, o.lxdInstall);
      const opts = { sudo: true, signal: ctx.signal } as const;
      if (method === "snap") {
        if (!before.installed) {
          ctx.log("  installing LXD from the snap store");
          await runner.run("snap", ["install", "lxd"], { ...opts, timeoutMs: 600_000 });
        }
        await runner.run("snap", ["start", "--enable", "lxd"], opts);
      } else {
        if (!before.installed) {
          ctx.log("  installing LXD with apt-get");
          await runner.run("apt-get", ["install", "-y", "lxd"], {
            ...opts,
            env: { DEBIAN_FRONTEND: "noninteractive" },
            timeoutMs: 600_000,
          });
        }
        await runner.run("systemctl", ["enable", "--now", "lxd.socket", "lxd.service"], opts);
      }
      await runner.run("lxd", ["waitready", "--timeout=60"], { ...opts, timeoutMs: 70_000 });
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
    diagnostics: [
      "snap services lxd",
      "journalctl -u lxd -n 50",
      "ls -l /var/snap/lxd/common/lxd/unix.socket /var/lib/lxd/unix.socket",
    ],
  };
}
