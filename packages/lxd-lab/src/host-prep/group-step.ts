import type { LabStep } from "../engine/step.js";
import { StepFailedError } from "../errors.js";
import { hostCall, runHostCall } from "./host-call.js";
import type { GroupEntry } from "./parse.js";
import { probeGroup } from "./probes.js";
import type { ResolvedHostPrep } from "./types.js";

const ID = "host-oneadmin-lxd-group";
const KIND = "group-membership";

/** What check saw: the lxd group and its members (undefined: no such group). */
export interface GroupFacts {
  group: GroupEntry | undefined;
}

/** oneadmin in the lxd group, so OpenNebula's drivers may use the LXD socket. */
export function oneadminGroupStep(o: ResolvedHostPrep): LabStep<GroupFacts> {
  const member = `${o.user}:lxd`;
  const lookUp = hostCall("getent", ["group", "lxd"], {}, { kind: "probe" });
  const join = hostCall("usermod", ["-aG", "lxd", o.user], { sudo: true });
  const leave = hostCall("gpasswd", ["-d", o.user, "lxd"], { sudo: true });
  return {
    description: {
      id: ID,
      title: `${o.user} is a member of the lxd group`,
      why: `The LXD socket is only open to root and the lxd group. OpenNebula runs its drivers as ${o.user}; without the group, every probe gets "permission denied" on the socket and the host goes to ERROR. The membership only reaches OpenNebula after a restart (next steps).`,
      calls: [lookUp.call, join.call],
      undoCalls: [leave.call],
      diagnostics: ["getent group lxd", `id ${o.user}`],
    },
    actions: {
      async check(ctx) {
        const group = await probeGroup(o.runner(ctx), "lxd");
        if (!group) return { done: false, detail: "group lxd does not exist", facts: { group } };
        return {
          done: group.members.includes(o.user),
          detail: `lxd (gid ${group.gid}) members: ${group.members.join(", ") || "none"}`,
          facts: { group },
        };
      },
      async apply(ctx, found) {
        const { group } = found.facts;
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
        await runHostCall(o.runner(ctx), join, { signal: ctx.signal });
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
        await runHostCall(o.runner(ctx), leave, { signal: ctx.signal });
        await ctx.forget(KIND, member);
      },
    },
  };
}
