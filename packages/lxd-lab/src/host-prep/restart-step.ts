import { sleep } from "@labgate/core";
import type { LabStep } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { hostCall, runHostCall } from "./host-call.js";
import { overrideSetsHome } from "./parse.js";
import { probeDaemon, probeGroup, readHostFile } from "./probes.js";
import { type HostCommandRunner, OVERRIDE_FILE, type ResolvedHostPrep } from "./types.js";

const ID = "host-restart-opennebula";

/** Does the running oned already have what the earlier steps set up (the lxd group, HOME from the override)? */
export async function restartNeeded(
  runner: HostCommandRunner,
  o: ResolvedHostPrep,
): Promise<{ needed: boolean; detail: string; pid?: number }> {
  const daemon = await probeDaemon(runner, o.daemon);
  if (!daemon) {
    // A host that is only an LXD node runs no oned: the drivers log in over SSH and get new groups at login.
    const unit = await runner.run("systemctl", ["cat", "--", `${o.service}.service`], { allowFailure: true });
    if (unit.exitCode !== 0) {
      return {
        needed: false,
        detail: `${o.service} is not installed here (a node, not the front-end): nothing to restart`,
      };
    }
    return { needed: true, detail: `${o.daemon} is not running` };
  }
  const reasons: string[] = [];
  const group = await probeGroup(runner, "lxd");
  if (group?.members.includes(o.user) && !daemon.groups.includes(group.gid)) {
    reasons.push(
      `${o.daemon} (pid ${daemon.pid}) started before ${o.user} joined lxd (gid ${group.gid} not in its groups)`,
    );
  }
  const override = await readHostFile(runner, OVERRIDE_FILE(o.service));
  if (override && overrideSetsHome(override, o.overrideHome) && daemon.env.HOME !== o.overrideHome) {
    reasons.push(
      `${o.daemon} runs with HOME=${daemon.env.HOME ?? "(unset)"}, the override sets ${o.overrideHome}`,
    );
  }
  if (reasons.length > 0) return { needed: true, detail: reasons.join("; "), pid: daemon.pid };
  return {
    needed: false,
    detail: `${o.daemon} (pid ${daemon.pid}) runs with groups ${daemon.groups.join(" ") || "none"}, HOME=${daemon.env.HOME ?? "(unset)"}`,
    pid: daemon.pid,
  };
}

/** What check saw: the pid of the running daemon (none when it is not running). */
export interface RestartFacts {
  pid?: number;
}

/** Restart OpenNebula so the new group membership and environment reach oned and its drivers. */
export function restartOpenNebulaStep(o: ResolvedHostPrep): LabStep<RestartFacts> {
  const restart = hostCall("systemctl", ["restart", o.service], { sudo: true });
  return {
    description: {
      id: ID,
      title: `Restart ${o.service} so it picks up the lxd group and HOME`,
      why: `A process keeps the groups and environment it started with. oned and the drivers it spawns only get the lxd group (and the HOME from the override) after ${o.service} restarts. Skipped when the running ${o.daemon} already has them.`,
      calls: [
        hostCall("pgrep", ["-o", "-x", o.daemon], {}, { kind: "probe" }).call,
        hostCall("cat", ["/proc/PID/status"], {}, { kind: "probe", note: "Groups:" }).call,
        restart.call,
      ],
      diagnostics: [`systemctl status ${o.service}`, `journalctl -u ${o.service} -n 50`],
    },
    actions: {
      async check(ctx) {
        const r = await restartNeeded(o.runner(ctx), o);
        return { done: !r.needed, detail: r.detail, facts: r.pid === undefined ? {} : { pid: r.pid } };
      },
      async apply(ctx, found) {
        const runner = o.runner(ctx);
        const before = found.facts.pid;
        await runHostCall(runner, restart, { signal: ctx.signal, timeoutMs: o.restartTimeoutMs });
        const deadline = Date.now() + o.restartTimeoutMs;
        for (;;) {
          const now = await probeDaemon(runner, o.daemon);
          if (now && now.pid !== before) return;
          if (Date.now() >= deadline) {
            throw new StepFailedError(
              ID,
              `${o.daemon} did not come back within ${o.restartTimeoutMs} ms after restarting ${o.service}.`,
              {
                hint: `Look at \`journalctl -u ${o.service} -n 50\` and ${o.onedLog} on the host.`,
              },
            );
          }
          await sleep(Math.min(o.pollIntervalMs, 1_000), ctx.signal);
        }
      },
      async verify(ctx) {
        const r = await restartNeeded(o.runner(ctx), o);
        if (r.needed) {
          throw new StepFailedError(ID, `After the restart: ${r.detail}.`, {
            hint: `Check that ${o.service} is the unit that runs ${o.daemon} (systemctl status ${o.service}) and that no drop-in overrides User/Group.`,
          });
        }
      },
      async undo() {},
    },
  };
}
