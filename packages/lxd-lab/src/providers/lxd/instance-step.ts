import {
  configDrift,
  deviceDrift,
  type LxdClient,
  type LxdConfig,
  type LxdDevices,
  type LxdInstance,
  PreconditionError,
  sleep,
} from "@labgate/core";
import { parse } from "yaml";
import type { Step, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import {
  LB_CONFIG_STAGING_PATH,
  LB_FALLBACK_CONFIG_PATH,
  LB_SETUP_SCRIPT_PATH,
} from "../../haproxy/lb-cloud-init.js";
import { APP_INSTALL_DIR, APP_SERVICE_NAME } from "../../payload/app-cloud-init.js";
import { SENTIMENT_APP_FILES } from "../../payload/sentiment-app.js";
import { resolveImageRef } from "./image-source.js";
import {
  BOOT_HOOK_DIR,
  NETWORK_HOOK,
  renderCloudInitNetworkConfig,
  renderNetworkScript,
  type StaticAddress,
} from "./instance-network.js";
import { knownAddress } from "./known-values.js";
import { APP_SETUP_SCRIPT } from "./lab-payloads.js";
import { LAB_MARKER_KEY, type LxdInstancePlan, type LxdLabOptions, ROLE_KEY } from "./lxd-lab-options.js";
import { type LxdClientFactory, recordedAddress } from "./lxd-runtime.js";
import { cloudInitKeys, resolvePayloadMode } from "./payload-mode.js";

export interface InstanceStepOptions {
  o: LxdLabOptions;
  plan: LxdInstancePlan;
  clientFor: LxdClientFactory;
  /** cloud-init user-data for this instance (used when the image has cloud-init). */
  userData: (ctx: StepContext) => Promise<string>;
}

/** Devices every lab instance has: its root disk on the chosen pool and eth0 on the lab bridge. */
export function instanceDevices(o: LxdLabOptions): LxdDevices {
  return {
    root: { type: "disk", path: "/", pool: o.storagePool },
    eth0: { type: "nic", network: o.bridge, name: "eth0" },
  };
}

/** The address an instance reports on eth0 (from GET /1.0/instances/NAME/state), if any. */
export async function instanceAddress(
  client: LxdClient,
  name: string,
): Promise<{ status: string; ips: string[] }> {
  const state = await client.getInstanceState(name);
  const ips = (state.network?.eth0?.addresses ?? []).filter((a) => a.family === "inet").map((a) => a.address);
  return { status: state.status, ips };
}

/**
 * Creates (or reconciles) one container, starts it and gives it its static address: through
 * cloud-init's network-config when the image has cloud-init, else by running `ip` in it (and
 * leaving the same script as a boot hook). The instance carries `user.labgate.lab=<lab>`.
 */
export function instanceStep({ o, plan, clientFor, userData }: InstanceStepOptions): Step {
  const id = `launch-${plan.name}`;
  const image = resolveImageRef(o.image);
  const devices = instanceDevices(o);

  const desiredConfig = async (
    client: LxdClient,
    ctx: StepContext,
    address: StaticAddress,
  ): Promise<LxdConfig> => {
    const config: LxdConfig = { [LAB_MARKER_KEY]: o.lab, [ROLE_KEY]: plan.role };
    if ((await resolvePayloadMode(client, o)) === "cloud-init") {
      const keys = await cloudInitKeys(client);
      config[keys.userData] = await userData(ctx);
      config[keys.networkConfig] = renderCloudInitNetworkConfig(address);
    }
    return config;
  };

  const inspect = async (ctx: StepContext) => {
    const client = clientFor(o);
    const address = staticAddress(ctx);
    const instance = await client.getInstance(plan.instance);
    if (!instance) return { client, address, instance, problem: `no instance ${plan.instance}` };
    if (instance.config[LAB_MARKER_KEY] !== o.lab)
      return { client, address, instance, problem: `${plan.instance} is not this lab's` };
    const drift = [
      ...configDrift(await desiredConfig(client, ctx, address), instance.config),
      ...deviceDrift(devices, instance.devices).map((d) => `device ${d}`),
    ];
    if (drift.length)
      return { client, address, instance, problem: `${plan.instance} differs in ${drift.join(", ")}` };
    const live = await instanceAddress(client, plan.instance);
    if (live.status !== "Running")
      return { client, address, instance, problem: `${plan.instance} is ${live.status}` };
    if (!live.ips.includes(address.ip)) {
      return {
        client,
        address,
        instance,
        problem: `${plan.instance} is Running without ${address.ip} (has ${live.ips.join(", ") || "no IPv4"})`,
      };
    }
    return { client, address, instance, problem: undefined };
  };

  const staticAddress = (ctx: StepContext): StaticAddress => {
    const a = recordedAddress(ctx, plan.instance, id);
    return { ip: a.ip, prefix: a.prefix, gateway: a.gateway, dns: a.dns };
  };

  return {
    id,
    title: `Launch ${plan.role === "lb" ? "the load balancer" : "app"} container ${plan.instance}`,
    why:
      `${plan.instance} is a system container from image ${o.image} with its root disk on pool ${o.storagePool} and eth0 on ` +
      `${o.bridge}. It gets its static address from the pool (cloud-init network-config when the image has cloud-init, ` +
      "otherwise `ip addr`/`ip route` run through the LXD API and kept as a boot hook). It is marked " +
      `${LAB_MARKER_KEY}=${o.lab} so \`lab down\` removes it and nothing else.`,
    commands: instanceCommands(o, plan),
    commandsFor: (known) => instanceCommands(o, plan, knownAddress(known, plan.instance)),
    async check(ctx) {
      const { problem, address } = await inspect(ctx);
      return problem
        ? { done: false, detail: problem }
        : { done: true, detail: `${plan.instance} is Running with ${address.ip}` };
    },
    async apply(ctx) {
      const client = clientFor(o);
      const address = staticAddress(ctx);
      const wait = { timeoutMs: o.timeoutMs, signal: ctx.signal };
      let instance = await client.getInstance(plan.instance);
      if (instance && instance.config[LAB_MARKER_KEY] !== o.lab) {
        throw new PreconditionError(
          "LXD_INSTANCE_TAKEN",
          `LXD instance ${plan.instance} exists and is not part of lab "${o.lab}".`,
          {
            hint: `Rename the lab, or \`lxc delete --force ${plan.instance}\` if it is a leftover.`,
          },
        );
      }
      const config = await desiredConfig(client, ctx, address);
      // Recorded before the create call returns, so an interrupted create is still cleaned up by `down`.
      await ctx.record({
        kind: "container",
        id: plan.instance,
        stepId: id,
        data: { role: plan.role, ip: address.ip, bridge: o.bridge },
      });
      if (!instance) {
        ctx.log(`creating ${plan.instance} from ${o.image}`);
        await client.createInstance(
          {
            name: plan.instance,
            type: "container",
            description: `labgate lab ${o.lab}: ${plan.name}`,
            source: image.source,
            config,
            devices,
          },
          wait,
        );
        instance = (await client.getInstance(plan.instance)) as LxdInstance;
      } else {
        const drift = configDrift(config, instance.config);
        const devDrift = deviceDrift(devices, instance.devices);
        if (drift.length || devDrift.length) {
          ctx.log(
            `${plan.instance}: updating ${[...drift, ...devDrift.map((d) => `device ${d}`)].join(", ")}`,
          );
          await client.patchInstance(
            plan.instance,
            {
              ...(drift.length ? { config: Object.fromEntries(drift.map((k) => [k, config[k] ?? ""])) } : {}),
              ...(devDrift.length
                ? { devices: Object.fromEntries(devDrift.map((d) => [d, devices[d] ?? {}])) }
                : {}),
            },
            wait,
          );
        }
      }
      if (instance.status !== "Running") {
        ctx.log(`starting ${plan.instance}`);
        await client.setInstanceState(plan.instance, "start", wait);
      }
      const viaCloudInit =
        (await resolvePayloadMode(client, o)) === "cloud-init" &&
        (await hasCloudInit(client, plan.instance, wait));
      if (!viaCloudInit) {
        await runScript(client, plan.instance, NETWORK_HOOK, renderNetworkScript(address), id, wait);
      }
      await waitForAddress(client, plan.instance, address.ip, o.timeoutMs, ctx.signal, id);
    },
    async verify(ctx) {
      const { problem } = await inspect(ctx);
      if (problem)
        throw new StepFailedError(id, `Container check failed: ${problem}.`, {
          hint: `lxc info ${plan.instance}`,
        });
    },
    async undo(ctx) {
      const client = clientFor(o);
      const instance = await client.getInstance(plan.instance);
      if (instance && instance.config[LAB_MARKER_KEY] === o.lab) {
        const wait = { timeoutMs: o.timeoutMs, signal: ctx.signal };
        if (instance.status !== "Stopped")
          await client.setInstanceState(plan.instance, "stop", { ...wait, force: true });
        await client.deleteInstance(plan.instance, wait);
      } else if (instance) {
        ctx.log(`${plan.instance} is not this lab's: left in place`);
      }
      await ctx.forget("container", plan.instance);
    },
    diagnostics: [
      `lxc info --show-log ${plan.instance}`,
      `lxc exec ${plan.instance} -- ip addr`,
      `lxc config show ${plan.instance}`,
    ],
  };
}

/**
 * What the launch step sends, with the address once it is allocated. The cloud-init variant (spec
 * `payload: cloud-init`, or an image named like a cloud image) sets `cloud-init.network-config` and
 * `cloud-init.user-data` at create; the push variant runs `ip` through the API and keeps a boot hook.
 * With `payload: auto` and another image, both are shown: which one runs depends on the image.
 */
export function instanceCommands(o: LxdLabOptions, plan: LxdInstancePlan, address?: StaticAddress): string[] {
  const image = resolveImageRef(o.image);
  const devices = instanceDevices(o);
  const cidr = address ? `${address.ip}/${address.prefix}` : "<address>/<prefix>";
  const marker = { [LAB_MARKER_KEY]: o.lab, [ROLE_KEY]: plan.role };
  const create = (config: Record<string, string>) =>
    `POST /1.0/instances {"name":"${plan.instance}","source":${JSON.stringify(image.source)},"config":${JSON.stringify(config)},"devices":${JSON.stringify(devices)}}`;
  const start = `PUT /1.0/instances/${plan.instance}/state {"action":"start"}`;
  const wait = "GET /1.0/operations/<id>/wait after each call";
  const mode = plannedPayloadMode(o);
  const cloudInit = [
    create({
      ...marker,
      "cloud-init.network-config": "<network-config below>",
      "cloud-init.user-data": "<#cloud-config below>",
    }),
    `# cloud-init.network-config: ${address ? JSON.stringify(parseNetworkConfig(address)) : `{"version":2,"ethernets":{"eth0":{"addresses":["${cidr}"],"routes":[{"to":"0.0.0.0/0","via":"${o.gateway}"}]}}}`}`,
    `# cloud-init.user-data: #cloud-config ${userDataSummary(plan)}`,
    "# (LXD without the cloud_init API extension: the same values under user.network-config / user.user-data)",
    start,
    `GET /1.0/instances/${plan.instance}/state until eth0 has ${address?.ip ?? "<address>"}   # cloud-init applies the network-config at first boot`,
    wait,
  ];
  const push = [
    create(marker),
    start,
    `POST /1.0/instances/${plan.instance}/files?path=${NETWORK_HOOK}   # ip addr replace ${cidr} dev eth0; ip route replace default via ${o.gateway}`,
    `POST /1.0/instances/${plan.instance}/exec {"command":["sh","${NETWORK_HOOK}"],"record-output":true}`,
    wait,
  ];
  if (mode === "cloud-init") return cloudInit;
  if (mode === "push") return push;
  return [
    "# payload auto: if the image has cloud-init (property labgate.cloud_init=true, variant cloud, or Ubuntu):",
    ...cloudInit,
    "# otherwise:",
    ...push,
  ];
}

/** The payload mode the plan can tell from the spec alone (no I/O): "auto" when only the image can say. */
export function plannedPayloadMode(o: LxdLabOptions): "cloud-init" | "push" | "auto" {
  if (o.payload !== "auto") return o.payload;
  const ref = resolveImageRef(o.image);
  // Remote images decide as resolvePayloadMode does; a local one by labgate's naming (…-cloud) when
  // its properties cannot be read, which planning does not do.
  if (ref.where === "remote")
    return ref.server?.includes("cloud-images.ubuntu.com") || /cloud/.test(ref.alias) ? "cloud-init" : "push";
  return /cloud/.test(ref.alias) ? "cloud-init" : "auto";
}

function parseNetworkConfig(address: StaticAddress): unknown {
  return parse(renderCloudInitNetworkConfig(address));
}

function userDataSummary(plan: LxdInstancePlan): string {
  return plan.role === "lb"
    ? `write_files ${LB_CONFIG_STAGING_PATH} (the rendered haproxy.cfg), ${LB_FALLBACK_CONFIG_PATH}, ${LB_SETUP_SCRIPT_PATH}; runcmd: sh ${LB_SETUP_SCRIPT_PATH}`
    : `write_files ${APP_INSTALL_DIR}/{${SENTIMENT_APP_FILES.join(",")}}, /etc/systemd/system/${APP_SERVICE_NAME}.service, ${APP_SETUP_SCRIPT}; runcmd: sh ${APP_SETUP_SCRIPT}`;
}

/** Whether the instance's image really has cloud-init (a "cloud-init" spec on a plain image falls back to push). */
export async function hasCloudInit(
  client: LxdClient,
  instance: string,
  wait: { timeoutMs: number; signal: AbortSignal },
): Promise<boolean> {
  return (await client.exec(instance, ["sh", "-c", "command -v cloud-init"], wait)).exitCode === 0;
}

/** Pushes a shell script (creating its directory) and runs it; a non-zero exit fails the step with its output. */
export async function runScript(
  client: LxdClient,
  instance: string,
  path: string,
  content: string,
  stepId: string,
  wait: { timeoutMs: number; signal: AbortSignal },
): Promise<string> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  await execOrFail(client, instance, ["mkdir", "-p", dir, BOOT_HOOK_DIR], stepId, wait);
  await client.pushFile(instance, path, content, { mode: 0o755 });
  return execOrFail(client, instance, ["sh", path], stepId, wait);
}

export async function execOrFail(
  client: LxdClient,
  instance: string,
  command: string[],
  stepId: string,
  wait: { timeoutMs: number; signal: AbortSignal },
): Promise<string> {
  const result = await client.exec(instance, command, wait);
  if (result.exitCode !== 0) {
    throw new StepFailedError(
      stepId,
      `\`${command.join(" ")}\` in ${instance} exited with ${result.exitCode}: ${(result.stderr || result.stdout).trim().slice(-800) || "no output"}`,
      {
        hint: `lxc exec ${instance} -- ${command.join(" ")}`,
        details: { stdout: result.stdout.slice(-2000), stderr: result.stderr.slice(-2000) },
      },
    );
  }
  return result.stdout;
}

async function waitForAddress(
  client: LxdClient,
  name: string,
  ip: string,
  timeoutMs: number,
  signal: AbortSignal,
  stepId: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = { status: "?", ips: [] as string[] };
  while (Date.now() < deadline) {
    last = await instanceAddress(client, name);
    if (last.ips.includes(ip)) return;
    await sleep(500, signal);
  }
  throw new StepFailedError(
    stepId,
    `${name} did not get ${ip} within ${Math.round(timeoutMs / 1000)} s (status ${last.status}, addresses ${last.ips.join(", ") || "none"}).`,
    {
      hint: `lxc exec ${name} -- ip addr; with cloud-init: lxc exec ${name} -- cloud-init status --long`,
    },
  );
}
