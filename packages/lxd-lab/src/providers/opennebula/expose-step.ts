import { ExitCode, OpenNebulaError, PreconditionError } from "@labgate/core";
import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import type { HostRunner, OneLabRuntime } from "./one-lab-runtime.js";
import { oneExposeRecord } from "./one-records.js";

export const EXPOSE_DEVICE = "labgate-expose";

interface ExposePlan {
  driver: string;
  /** Checks whether the exposure exists: exit 0 = present. */
  check: [string, string[]];
  add: Array<[string, string[]]>;
  remove: Array<[string, string[]]>;
  /** lxc driver, loopback address: the host interface towards the LB that must route 127.0.0.0/8 (route_localnet). */
  localnetDevice?: string;
}

const isLoopback = (address: string) => address.startsWith("127.");

/**
 * The exact host commands: an LXD proxy device (lxd driver) or iptables DNAT rules (lxc driver, no LXD to
 * proxy). PREROUTING catches connections from other machines, OUTPUT those made on the host itself. A
 * loopback address also needs what Docker does for the same case (userland-proxy off): the bridge towards
 * the LB routes 127.0.0.0/8 (route_localnet) and the source is masqueraded, or the LB would answer its own
 * loopback. `lbDevice` is the host interface of the route to the LB (`ip -4 route get LBIP`).
 */
export function exposePlan(
  driver: string,
  vmId: number,
  lbIp: string,
  lbPort: number,
  address: string,
  port: number,
  lbDevice?: string,
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
  const dnat = (chain: string) => [
    chain,
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
  const rules = [dnat("PREROUTING"), dnat("OUTPUT")];
  const loopback = isLoopback(address) && lbDevice !== undefined;
  if (loopback) {
    rules.push([
      "POSTROUTING",
      "-p",
      "tcp",
      "-s",
      "127.0.0.0/8",
      "-d",
      lbIp,
      "--dport",
      String(lbPort),
      "-j",
      "MASQUERADE",
      "-m",
      "comment",
      "--comment",
      EXPOSE_DEVICE,
    ]);
  }
  return {
    driver,
    check: ["iptables", ["-t", "nat", "-C", ...dnat("OUTPUT")]],
    add: [
      ["sysctl", ["-w", "net.ipv4.ip_forward=1"]],
      ...(loopback
        ? [["sysctl", ["-w", `net.ipv4.conf.${lbDevice}.route_localnet=1`]] as [string, string[]]]
        : []),
      ...rules.map((r): [string, string[]] => ["iptables", ["-t", "nat", "-A", ...r]]),
    ],
    remove: rules.map((r): [string, string[]] => ["iptables", ["-t", "nat", "-D", ...r]]),
    ...(loopback ? { localnetDevice: lbDevice } : {}),
  };
}

async function exposeNow(
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
    throw new OpenNebulaError(
      "ONE_LB_NOT_DEPLOYED",
      `The LB VM ${rt.options.lb.vmName} is not deployed on a host yet.`,
      {
        hint: "Run `labgate lab up` again: the LB step deploys it before the LB is exposed.",
      },
    );
  const host = await client.hostInfo(lb.hostId);
  const lbIp = rt.addresses(ctx).get(rt.options.lb.name)?.ip ?? lb.nics[0]?.ip ?? "";
  const device =
    host.vmMad !== "lxd" && isLoopback(expose.address) ? await routeDevice(runner, lbIp, ctx) : undefined;
  return {
    runner,
    plan: exposePlan(host.vmMad, lb.id, lbIp, rt.options.lb.port, expose.address, expose.port, device),
  };
}

/** The host interface the route to `ip` leaves by (`ip -4 route get IP` → "... dev lgtbr0 ..."). */
async function routeDevice(runner: HostRunner, ip: string, ctx: StepContext): Promise<string> {
  const r = await runner.run("ip", ["-4", "route", "get", ip], { signal: ctx.signal });
  const dev = /\bdev (\S+)/.exec(r.stdout)?.[1];
  if (!dev)
    throw new PreconditionError(
      "ONE_LB_ROUTE_UNKNOWN",
      `Cannot tell which interface leads to the LB ${ip}: \`ip -4 route get ${ip}\` said ${r.stdout.trim() || "nothing"}.`,
      {
        hint: "The host needs a route to the lab's VNet (the host preparation step adds the bridge); check `ip -4 route` on it.",
      },
    );
  return dev;
}

/** What the expose step's check saw: the exact host commands for this LB (driver, VM id, address, device). */
export interface ExposeFacts {
  plan: ExposePlan;
}

/** The host commands as shown: `lbIp` is the address the addresses step recorded, LBIP until then. */
function exposeCalls(rt: OneLabRuntime, lbIp = "LBIP"): StepCall[] {
  const e = rt.options.expose!;
  const lbPort = rt.options.lb.port;
  const host = (display: string): StepCall => ({ display, kind: "command", where: "host" });
  return [
    host(
      `lxc config device add one-LBID ${EXPOSE_DEVICE} proxy listen=tcp:${e.address}:${e.port} connect=tcp:${lbIp}:${lbPort}  # LXD host`,
    ),
    host(
      `iptables -t nat -A PREROUTING|OUTPUT -p tcp -d ${e.address} --dport ${e.port} -j DNAT --to-destination ${lbIp}:${lbPort}  # LXC host`,
    ),
    ...(isLoopback(e.address)
      ? [
          host(
            `sysctl -w net.ipv4.conf.DEV.route_localnet=1; iptables -t nat -A POSTROUTING -p tcp -s 127.0.0.0/8 -d ${lbIp} --dport ${lbPort} -j MASQUERADE  # LXC host, loopback address`,
          ),
        ]
      : []),
  ];
}

/** What undo runs on the host, as shown at the undo gate. */
function exposeUndoCalls(rt: OneLabRuntime, lbIp = "LBIP"): StepCall[] {
  const e = rt.options.expose!;
  const host = (display: string): StepCall => ({ display, kind: "command", where: "host" });
  return [
    host(`lxc config device remove one-LBID ${EXPOSE_DEVICE}  # LXD host`),
    host(
      `iptables -t nat -D PREROUTING|OUTPUT -p tcp -d ${e.address} --dport ${e.port} -j DNAT --to-destination ${lbIp}:${rt.options.lb.port}  # LXC host`,
    ),
  ];
}

async function forwardPresent(runner: HostRunner, plan: ExposePlan, ctx: StepContext) {
  return runner.run(plan.check[0], plan.check[1], { sudo: true, allowFailure: true, signal: ctx.signal });
}

export function exposeStep(rt: OneLabRuntime): LabStep<ExposeFacts> {
  const e = rt.options.expose!;
  const describe = (lbIp?: string): StepDescription => ({
    id: "one-expose",
    title: `Expose the load balancer on the host at ${e.address}:${e.port}`,
    why: "The lab network lives on a bridge inside the host; to reach the load balancer from your machine, the host forwards a port to it. On LXD hosts (OpenNebula ≤ 6.8) this is an LXD proxy device on the LB container; on LXC hosts (6.10+) an iptables DNAT rule on the host.",
    calls: exposeCalls(rt, lbIp),
    undoCalls: exposeUndoCalls(rt, lbIp),
  });
  return {
    description: describe(),
    current: (ctx) => describe(rt.addresses(ctx).get(rt.options.lb.name)?.ip),
    actions: {
      async check(ctx) {
        const { plan, runner } = await exposeNow(rt, ctx);
        const r = await forwardPresent(runner, plan, ctx);
        return {
          done: r.exitCode === 0,
          detail: r.exitCode === 0 ? `forward present (${plan.driver})` : "no forward yet",
          facts: { plan },
        };
      },
      async apply(ctx, found) {
        const { plan } = found.facts;
        const runner = rt.runner()!;
        // Recorded before the change: undo puts route_localnet back as it was, not to a guess.
        const localnetWas = plan.localnetDevice
          ? (
              await runner.run("sysctl", ["-n", `net.ipv4.conf.${plan.localnetDevice}.route_localnet`], {
                signal: ctx.signal,
              })
            ).stdout.trim()
          : undefined;
        await ctx.record({
          kind: "one-expose",
          id: `${e.address}:${e.port}`,
          stepId: "one-expose",
          data: {
            driver: plan.driver,
            ...(plan.localnetDevice ? { localnetDevice: plan.localnetDevice, localnetWas } : {}),
          },
        });
        for (const [cmd, args] of plan.add) {
          ctx.log(`  ${runner.describe(cmd, args, { sudo: true })}`);
          await runner.run(cmd, args, { sudo: true, signal: ctx.signal });
        }
      },
      async verify(ctx) {
        const { plan, runner } = await exposeNow(rt, ctx);
        const r = await forwardPresent(runner, plan, ctx);
        if (r.exitCode !== 0)
          throw new OpenNebulaError(
            "ONE_EXPOSE_MISSING",
            `The forward to the LB is not in place: ${r.stderr.trim()}`,
            {
              hint: "Run `labgate lab up --replace expose` to put it back.",
            },
          );
      },
      async undo(ctx) {
        if (!ctx.resources("one-expose").length) return;
        const { plan, runner } = await exposeNow(rt, ctx);
        for (const [cmd, args] of plan.remove)
          await runner.run(cmd, args, { sudo: true, allowFailure: true, signal: ctx.signal });
        for (const r of ctx.resources("one-expose")) {
          const d = oneExposeRecord(r);
          if (d.localnetDevice !== undefined && d.localnetWas === "0") {
            await runner.run("sysctl", ["-w", `net.ipv4.conf.${d.localnetDevice}.route_localnet=0`], {
              sudo: true,
              allowFailure: true,
              signal: ctx.signal,
            });
          }
          await ctx.forget("one-expose", r.id);
        }
      },
    },
  };
}
