import {
  configDrift,
  createLxdNode,
  destroyLxdNode,
  deviceDrift,
  getLxdNode,
  type LxdInstancesPost,
  PreconditionError,
  sleep,
  startLxdNode,
  waitLxdNodeRunning,
} from "@labgate/core";
import type { Found, StepDescription } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { hasCloudInit, runScript } from "./instance-exec.js";
import { instanceAddress, launchBody, launchCalls, networkScript } from "./instance-launch.js";
import type { StaticAddress } from "./instance-network.js";
import { knownAddress } from "./known-values.js";
import { LAB_MARKER_KEY, type LxdInstancePlan, type LxdLabOptions } from "./lxd-lab-options.js";
import { type LxdClientFactory, recordedAddress } from "./lxd-runtime.js";
import { cloudInitKeys, type ResolvedPayload, resolvePayloadMode } from "./payload-mode.js";
import { lxdUndoCalls } from "./undo-calls.js";

export { instanceAddress, instanceDevices } from "./instance-launch.js";

export interface InstanceStepOptions {
  o: LxdLabOptions;
  plan: LxdInstancePlan;
  clientFor: LxdClientFactory;
  /** cloud-init user-data for this instance (used when the image has cloud-init). */
  userData: (ctx: StepContext) => Promise<string>;
}

/** What check saw: the address to give, the body the instance is (or is reconciled to), what LXD has. */
export interface LaunchFacts {
  address: StaticAddress;
  mode: ResolvedPayload;
  body: LxdInstancesPost;
  /** The instance LXD has under that name, if any. */
  instance?: { ours: boolean; status: string; configDrift: string[]; deviceDrift: string[] };
  /** Why the step is not done (undefined: done). */
  problem?: string;
}

/**
 * Creates (or reconciles) one container, starts it and gives it its static address: through
 * cloud-init's network-config when the image has cloud-init, else by running `ip` in it (and
 * leaving the same script as a boot hook). The instance carries `user.labgate.lab=<lab>`.
 */
export function instanceStep({ o, plan, clientFor, userData }: InstanceStepOptions): LabStep<LaunchFacts> {
  const id = `launch-${plan.name}`;

  const staticAddress = (ctx: StepContext): StaticAddress => {
    const a = recordedAddress(ctx, plan.instance, id);
    return { ip: a.ip, prefix: a.prefix, gateway: a.gateway, dns: a.dns };
  };

  /** One look at LXD: the body this lab wants for the instance and how the live one differs from it. */
  const inspect = async (ctx: StepContext): Promise<LaunchFacts> => {
    const client = clientFor(o);
    const address = staticAddress(ctx);
    const mode = await resolvePayloadMode(client, o);
    const body = launchBody(
      o,
      plan,
      mode === "cloud-init"
        ? { keys: await cloudInitKeys(client), userData: await userData(ctx), address }
        : undefined,
    );
    const node = await getLxdNode(client, plan.instance);
    if (!node) return { address, mode, body, problem: `no instance ${plan.instance}` };
    const ours = node.config[LAB_MARKER_KEY] === o.lab;
    const drift = {
      configDrift: configDrift(body.config ?? {}, node.config),
      deviceDrift: deviceDrift(body.devices ?? {}, node.devices),
    };
    const instance = { ours, status: node.status, ...drift };
    const facts = { address, mode, body, instance };
    if (!ours) return { ...facts, problem: `${plan.instance} is not this lab's` };
    const differs = [...drift.configDrift, ...drift.deviceDrift.map((d) => `device ${d}`)];
    if (differs.length) return { ...facts, problem: `${plan.instance} differs in ${differs.join(", ")}` };
    if (node.status !== "Running") return { ...facts, problem: `${plan.instance} is ${node.status}` };
    if (!node.addresses.includes(address.ip))
      return {
        ...facts,
        problem: `${plan.instance} is Running without ${address.ip} (has ${node.addresses.join(", ") || "no IPv4"})`,
      };
    return facts;
  };

  const description: StepDescription = {
    id,
    title: `Launch ${plan.role === "lb" ? "the load balancer" : "app"} container ${plan.instance}`,
    why:
      `${plan.instance} is a system container from image ${o.image} with its root disk on pool ${o.storagePool} and eth0 on ` +
      `${o.bridge}. It gets its static address from the pool (cloud-init network-config when the image has cloud-init, ` +
      "otherwise `ip addr`/`ip route` run through the LXD API and kept as a boot hook). It is marked " +
      `${LAB_MARKER_KEY}=${o.lab} so \`lab down\` removes it and nothing else.`,
    calls: launchCalls(o, plan),
    undoCalls: lxdUndoCalls(o, id) ?? [],
    diagnostics: [
      `lxc info --show-log ${plan.instance}`,
      `lxc exec ${plan.instance} -- ip addr`,
      `lxc config show ${plan.instance}`,
    ],
  };

  return {
    description,
    current: (ctx) => {
      const address = knownAddress(ctx.resources(), plan.instance);
      return { ...description, calls: launchCalls(o, plan, address) };
    },
    actions: {
      async check(ctx): Promise<Found<LaunchFacts>> {
        const facts = await inspect(ctx);
        return facts.problem
          ? { done: false, detail: facts.problem, facts }
          : { done: true, detail: `${plan.instance} is Running with ${facts.address.ip}`, facts };
      },
      async apply(ctx, found) {
        const { address, mode, body, instance } = found.facts;
        const client = clientFor(o);
        const wait = { timeoutMs: o.timeoutMs, signal: ctx.signal };
        if (instance && !instance.ours) {
          throw new PreconditionError(
            "LXD_INSTANCE_TAKEN",
            `LXD instance ${plan.instance} exists and is not part of lab "${o.lab}".`,
            {
              hint: `Rename the lab, or \`lxc delete --force ${plan.instance}\` if it is a leftover.`,
            },
          );
        }
        // Recorded before the create call returns, so an interrupted create is still cleaned up by `down`.
        await ctx.record({
          kind: "container",
          id: plan.instance,
          stepId: id,
          data: { role: plan.role, ip: address.ip, bridge: o.bridge },
        });
        if (!instance) {
          ctx.log(`creating ${plan.instance} from ${o.image}`);
          await createLxdNode(client, body, wait);
        } else {
          const { configDrift: drift, deviceDrift: devDrift } = instance;
          if (drift.length || devDrift.length) {
            ctx.log(
              `${plan.instance}: updating ${[...drift, ...devDrift.map((d) => `device ${d}`)].join(", ")}`,
            );
            await client.patchInstance(
              plan.instance,
              {
                ...(drift.length
                  ? { config: Object.fromEntries(drift.map((k) => [k, body.config?.[k] ?? ""])) }
                  : {}),
                ...(devDrift.length
                  ? { devices: Object.fromEntries(devDrift.map((d) => [d, body.devices?.[d] ?? {}])) }
                  : {}),
              },
              wait,
            );
          }
          if (instance.status !== "Running") {
            ctx.log(`starting ${plan.instance}`);
            await startLxdNode(client, plan.instance, wait);
          }
        }
        await waitLxdNodeRunning(client, plan.instance, { ...wait, intervalMs: 500 });
        const viaCloudInit = mode === "cloud-init" && (await hasCloudInit(client, plan.instance, wait));
        if (!viaCloudInit) await runScript(client, networkScript(o, plan, address), id, wait);
        await waitForAddress(ctx, address.ip);
      },
      async verify(ctx) {
        const { problem } = await inspect(ctx);
        if (problem)
          throw new StepFailedError(id, `Container check failed: ${problem}.`, {
            hint: `lxc info ${plan.instance}`,
          });
      },
      async undo(ctx) {
        const gone = await destroyLxdNode(clientFor(o), plan.instance, {
          timeoutMs: o.timeoutMs,
          signal: ctx.signal,
          owned: (config) => config[LAB_MARKER_KEY] === o.lab,
        });
        if (gone === "not-owned") ctx.log(`${plan.instance} is not this lab's: left in place`);
        await ctx.forget("container", plan.instance);
      },
    },
  };

  async function waitForAddress(ctx: StepContext, ip: string): Promise<void> {
    const client = clientFor(o);
    const deadline = Date.now() + o.timeoutMs;
    let last = { status: "?", ips: [] as string[] };
    while (Date.now() < deadline) {
      last = await instanceAddress(client, plan.instance);
      if (last.ips.includes(ip)) return;
      await sleep(500, ctx.signal);
    }
    throw new StepFailedError(
      id,
      `${plan.instance} did not get ${ip} within ${Math.round(o.timeoutMs / 1000)} s (status ${last.status}, addresses ${last.ips.join(", ") || "none"}).`,
      {
        hint: `lxc exec ${plan.instance} -- ip addr; with cloud-init: lxc exec ${plan.instance} -- cloud-init status --long`,
      },
    );
  }
}
