import { ExitCode, OpenNebulaError } from "@labgate/core";
import type { Step, StepContext } from "../../engine/step.js";
import type { HostRunner, OneLabRuntime } from "./one-lab-runtime.js";

export const EXPOSE_DEVICE = "labgate-expose";

interface ExposePlan {
  driver: string;
  /** Checks whether the exposure exists: exit 0 = present. */
  check: [string, string[]];
  add: Array<[string, string[]]>;
  remove: Array<[string, string[]]>;
}

/** The exact host commands: an LXD proxy device (lxd driver) or an iptables DNAT rule (lxc driver). */
export function exposePlan(
  driver: string,
  vmId: number,
  lbIp: string,
  lbPort: number,
  address: string,
  port: number,
): ExposePlan {
  if (driver === "lxd") {
    const container = `one-${vmId}`;
    return {
      driver,
      check: ["lxc", ["config", "device", "get", container, EXPOSE_DEVICE, "listen"]],
      add: [
        [
          "lxc",
          [
            "config",
            "device",
            "add",
            container,
            EXPOSE_DEVICE,
            "proxy",
            `listen=tcp:${address}:${port}`,
            `connect=tcp:${lbIp}:${lbPort}`,
          ],
        ],
      ],
      remove: [["lxc", ["config", "device", "remove", container, EXPOSE_DEVICE]]],
    };
  }
  const rule = [
    "PREROUTING",
    "-p",
    "tcp",
    "-d",
    address,
    "--dport",
    String(port),
    "-j",
    "DNAT",
    "--to-destination",
    `${lbIp}:${lbPort}`,
    "-m",
    "comment",
    "--comment",
    EXPOSE_DEVICE,
  ];
  return {
    driver,
    check: ["iptables", ["-t", "nat", "-C", ...rule]],
    add: [
      ["sysctl", ["-w", "net.ipv4.ip_forward=1"]],
      ["iptables", ["-t", "nat", "-A", ...rule]],
    ],
    remove: [["iptables", ["-t", "nat", "-D", ...rule]]],
  };
}

async function current(
  rt: OneLabRuntime,
  ctx: StepContext,
): Promise<{ plan: ExposePlan; runner: HostRunner }> {
  const runner = rt.runner();
  const expose = rt.options.expose;
  if (!runner || !expose) {
    throw new OpenNebulaError(
      "ONE_EXPOSE_UNAVAILABLE",
      "Exposing the LB needs access to the OpenNebula host (SSH, or labgate running on it).",
      {
        exitCode: ExitCode.PRECONDITION,
        hint: "Set providerOptions.ssh { host, user } (or hostAccess: local when labgate runs on the host) and lb.expose { address, port } in the lab spec.",
      },
    );
  }
  const client = rt.client(ctx);
  const lb = await client.findVm(rt.options.lb.vmName);
  if (!lb || lb.hostId === undefined)
    throw new Error(`the LB VM ${rt.options.lb.vmName} is not deployed yet`);
  const host = await client.hostInfo(lb.hostId);
  const lbIp = rt.addresses(ctx).get(rt.options.lb.name)?.ip ?? lb.nics[0]?.ip ?? "";
  return {
    runner,
    plan: exposePlan(host.vmMad, lb.id, lbIp, rt.options.lb.port, expose.address, expose.port),
  };
}

export function exposeStep(rt: OneLabRuntime): Step {
  const e = rt.options.expose!;
  return {
    id: "one-expose",
    title: `Expose the load balancer on the host at ${e.address}:${e.port}`,
    why: "The lab network lives on a bridge inside the host; to reach the load balancer from your machine, the host forwards a port to it. On LXD hosts (OpenNebula ≤ 6.8) this is an LXD proxy device on the LB container; on LXC hosts (6.10+) an iptables DNAT rule on the host.",
    commands: [
      `lxc config device add one-LBID ${EXPOSE_DEVICE} proxy listen=tcp:${e.address}:${e.port} connect=tcp:LBIP:${rt.options.lb.port}  # LXD host`,
      `iptables -t nat -A PREROUTING -p tcp -d ${e.address} --dport ${e.port} -j DNAT --to-destination LBIP:${rt.options.lb.port}  # LXC host`,
    ],
    async check(ctx) {
      const { plan, runner } = await current(rt, ctx);
      const r = await runner.run(plan.check[0], plan.check[1], {
        sudo: true,
        allowFailure: true,
        signal: ctx.signal,
      });
      return {
        done: r.exitCode === 0,
        detail: r.exitCode === 0 ? `forward present (${plan.driver})` : "no forward yet",
      };
    },
    async apply(ctx) {
      const { plan, runner } = await current(rt, ctx);
      for (const [cmd, args] of plan.add) {
        ctx.log(`  ${runner.describe(cmd, args, { sudo: true })}`);
        await runner.run(cmd, args, { sudo: true, signal: ctx.signal });
      }
      await ctx.record({
        kind: "one-expose",
        id: `${e.address}:${e.port}`,
        stepId: "one-expose",
        data: { driver: plan.driver },
      });
    },
    async verify(ctx) {
      const { plan, runner } = await current(rt, ctx);
      const r = await runner.run(plan.check[0], plan.check[1], {
        sudo: true,
        allowFailure: true,
        signal: ctx.signal,
      });
      if (r.exitCode !== 0) throw new Error(`the forward to the LB is not in place: ${r.stderr.trim()}`);
    },
    async undo(ctx) {
      if (!ctx.resources("one-expose").length) return;
      const { plan, runner } = await current(rt, ctx);
      for (const [cmd, args] of plan.remove)
        await runner.run(cmd, args, { sudo: true, allowFailure: true, signal: ctx.signal });
      for (const r of ctx.resources("one-expose")) await ctx.forget("one-expose", r.id);
    },
  };
}
