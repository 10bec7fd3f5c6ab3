import { ExitCode } from "@labgate/core";
import type { LabStep, ResourceRecord, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { inspectNetns, type LiveNetns, netnsDrift, runIp } from "./netns-link.js";
import { type AppNetns, netnsCommands, netnsCreateCommands, netnsDeleteCommands } from "./netns-plan.js";
import { command, displayArgv } from "./process-calls.js";

export const netnsStepId = (app: string) => `netns-${app}`;

const show = (argv: string[]) => displayArgv(argv, "");

function netnsRecord(ctx: StepContext, n: AppNetns): ResourceRecord | undefined {
  return ctx.resources("netns").find((r) => r.id === n.netns);
}

/** The namespace is ours: recorded with the inode it had right after `ip netns add` succeeded. */
export function ownsNetns(record: ResourceRecord | undefined, live: LiveNetns): boolean {
  return live.inode !== undefined && record?.data?.["inode"] === live.inode;
}

function ownsHostVeth(record: ResourceRecord | undefined, live: LiveNetns): boolean {
  return live.hostIfindex !== undefined && record?.data?.["vethIfindex"] === live.hostIfindex;
}

async function ip(stepId: string, argv: string[]): Promise<void> {
  const r = await runIp(argv.slice(1));
  if (!r.ok) {
    throw new StepFailedError(stepId, `\`${show(argv)}\` failed: ${r.stderr.trim() || "no output"}`, {
      hint: "Run it by hand to see why; `ip netns list` and `ip -br addr` show what exists.",
      details: { command: argv, stderr: r.stderr },
    });
  }
}

/**
 * One app's network namespace and veth link (providerOptions.netns). The namespace is recorded before
 * `ip netns add`, and with its inode after, so `lab down` removes it only when it is the one labgate
 * made; a namespace or interface of that name that labgate did not make is never touched.
 */
export function netnsStep(_spec: LabSpec, n: AppNetns): LabStep<LiveNetns> {
  const id = netnsStepId(n.app);
  const { add, veth, hostAddr, hostUp, appAddr, appUp, loUp, delVeth, delNetns } = netnsCommands(n);
  return {
    description: {
      id,
      title: `Give ${n.app} its own network namespace ${n.netns}, linked to this host by ${n.vethHost} (${n.hostAddress}) ↔ ${n.vethApp} (${n.appAddress})`,
      why:
        `Delay and loss faults (tc netem) act on a network link, and ${n.app} on loopback has none of its own. ` +
        `In its own namespace ${n.app} listens on ${n.appAddress}, the far end of a veth pair on the /30 ${n.link}; ` +
        `HAProxy on this host reaches it through ${n.vethHost}. Nothing leaves this machine.`,
      // The argv arrays apply runs (netnsCommands), each shown as typed.
      calls: netnsCreateCommands(n).map(show).map(command),
      undoCalls: netnsDeleteCommands(n)
        .map(show)
        .map((c) => command(`${c}   # only if labgate made it (recorded inode/ifindex)`)),
      diagnostics: [
        `ip netns list`,
        `ip -br addr show dev ${n.vethHost}`,
        `ip -n ${n.netns} -br addr`,
        `ip netns exec ${n.netns} ss -ltn`,
      ],
      // Nothing earlier is an input: the namespace needs no address or process.
      needs: [],
    },
    actions: {
      async check(ctx) {
        const live = await inspectNetns(n);
        if (live.inode === undefined)
          return { done: false, detail: `${n.netns} does not exist yet`, facts: live };
        if (!ownsNetns(netnsRecord(ctx, n), live))
          return { done: false, detail: `${n.netns} exists but labgate did not make it`, facts: live };
        const drift = netnsDrift(n, live);
        return drift.length
          ? { done: false, detail: `drift: ${drift.join("; ")}`, facts: live }
          : {
              done: true,
              detail: `${n.netns}: ${n.vethHost} ${n.hostAddress} ↔ ${n.vethApp} ${n.appAddress}`,
              facts: live,
            };
      },
      async apply(ctx, found) {
        // Starts from what check saw; each change below is followed by a fresh look at what it made.
        let live = found.facts;
        let record = netnsRecord(ctx, n);
        if (live.inode === undefined) {
          // Intent first: a crash between the two records leaves a name to look for, not a stray namespace.
          await ctx.record({ kind: "netns", id: n.netns, stepId: id, data: { ...n, phase: "creating" } });
          await ip(id, add).catch(async (error: unknown) => {
            await ctx.forget("netns", n.netns);
            throw error;
          });
          live = await inspectNetns(n);
          record = {
            kind: "netns",
            id: n.netns,
            stepId: id,
            data: { ...n, phase: "created", inode: live.inode },
          };
          await ctx.record(record);
        } else if (!ownsNetns(record, live)) {
          throw new StepFailedError(
            id,
            `Network namespace ${n.netns} already exists and labgate did not make it.`,
            {
              hint: `Leave it alone and rename the lab (spec "name"), or remove it yourself if it is a leftover: ip netns del ${n.netns}`,
              exitCode: ExitCode.PRECONDITION,
            },
          );
        }
        if (live.hostIfindex === undefined) {
          await ip(id, veth);
          live = await inspectNetns(n);
          record = {
            ...(record as ResourceRecord),
            data: { ...record?.data, vethIfindex: live.hostIfindex },
          };
          await ctx.record(record);
        } else if (!ownsHostVeth(record, live)) {
          throw new StepFailedError(
            id,
            `Interface ${n.vethHost} already exists and labgate did not make it.`,
            {
              hint: `See \`ip -d link show ${n.vethHost}\`; rename the lab (spec "name") so its interfaces get other names.`,
              exitCode: ExitCode.PRECONDITION,
            },
          );
        }
        if (!live.hostHasAddress) await ip(id, hostAddr);
        if (!live.hostUp) await ip(id, hostUp);
        if (!live.appHasAddress) await ip(id, appAddr);
        if (!live.appUp) await ip(id, appUp);
        if (!live.loUp) await ip(id, loUp);
      },
      async verify(ctx) {
        const live = await inspectNetns(n);
        const drift = ownsNetns(netnsRecord(ctx, n), live)
          ? netnsDrift(n, live)
          : [`${n.netns} is not the namespace labgate made`];
        if (drift.length) {
          throw new StepFailedError(id, `The link of ${n.app} is not complete: ${drift.join("; ")}.`, {
            hint: `ip -br addr show dev ${n.vethHost}; ip -n ${n.netns} -br addr`,
          });
        }
      },
      async undo(ctx) {
        const record = netnsRecord(ctx, n);
        if (!record) return;
        const live = await inspectNetns(n);
        if (ownsHostVeth(record, live)) await ip(id, delVeth);
        if (ownsNetns(record, live)) await ip(id, delNetns);
        else if (live.inode !== undefined)
          ctx.log(
            `${id}: left ${n.netns} in place: it is not the namespace labgate recorded making (remove it by hand if it is a leftover: ip netns del ${n.netns})`,
          );
        await ctx.forget("netns", n.netns);
      },
    },
  };
}
