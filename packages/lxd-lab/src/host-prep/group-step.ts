import type { Step } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { probeGroup } from "./probes.js";
import { show } from "./show.js";
import type { ResolvedHostPrep } from "./types.js";

const ID = "host-oneadmin-lxd-group";
const KIND = "group-membership";

/** oneadmin in the lxd group, so OpenNebula's drivers may use the LXD socket. */
export function oneadminGroupStep(o: ResolvedHostPrep): Step {
  const member = `${o.user}:lxd`;
  return {
    id: ID,
    title: `${o.user} is a member of the lxd group`,
    why: `The LXD socket is only open to root and the lxd group. OpenNebula runs its drivers as ${o.user}; without the group, every probe gets "permission denied" on the socket and the host goes to ERROR. The membership only reaches OpenNebula after a restart (next steps).`,
    commands: [show("getent", ["group", "lxd"]), show("usermod", ["-aG", "lxd", o.user], { sudo: true })],
    async check(ctx) {
      const group = await probeGroup(o.runner(ctx), "lxd");
      if (!group) return { done: false, detail: "group lxd does not exist" };
      const done = group.members.includes(o.user);
      return { done, detail: `lxd (gid ${group.gid}) members: ${group.members.join(", ") || "none"}` };
    },
    async apply(ctx) {
      const runner = o.runner(ctx);
      const group = await probeGroup(runner, "lxd");
      if (!group) {
        throw new StepFailedError(
          ID,
          "The lxd group does not exist on the host, so it cannot be given to oneadmin.",
          {
            hint: "Installing LXD creates it (step host-lxd); or create it with `groupadd --system lxd`.",
          },
        );
      }
      if (group.members.includes(o.user)) return;
      await runner.run("usermod", ["-aG", "lxd", o.user], { sudo: true, signal: ctx.signal });
      await ctx.record({ kind: KIND, id: member, stepId: ID, data: { user: o.user, group: "lxd" } });
    },
    async verify(ctx) {
      const group = await probeGroup(o.runner(ctx), "lxd");
      if (!group?.members.includes(o.user)) {
        throw new StepFailedError(
          ID,
          `getent group lxd does not list ${o.user} (${group ? `members: ${group.members.join(", ") || "none"}` : "no lxd group"}).`,
          {
            hint: "Users may come from LDAP/SSSD, where usermod cannot add them: add oneadmin to lxd in the directory instead.",
          },
        );
      }
    },
    async undo(ctx) {
      // Only a membership this lab added is removed.
      if (!ctx.resources(KIND).some((r) => r.id === member)) return;
      await o.runner(ctx).run("gpasswd", ["-d", o.user, "lxd"], { sudo: true, signal: ctx.signal });
      await ctx.forget(KIND, member);
    },
    diagnostics: ["getent group lxd", `id ${o.user}`],
  };
}
