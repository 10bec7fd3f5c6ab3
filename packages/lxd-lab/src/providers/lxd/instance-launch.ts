import {
  instanceStateCall,
  LXD_CLOUD_INIT_KEYS,
  type LxdClient,
  type LxdDevices,
  type LxdInstancesPost,
  lxdNodeBody,
  lxdNodeState,
} from "@labgate/core";
import { parse } from "yaml";
import type { StepCall } from "../../engine/plan-step.js";
import {
  LB_CONFIG_STAGING_PATH,
  LB_FALLBACK_CONFIG_PATH,
  LB_SETUP_SCRIPT_PATH,
} from "../../haproxy/lb-cloud-init.js";
import { APP_INSTALL_DIR, APP_SERVICE_NAME } from "../../payload/app-cloud-init.js";
import { SENTIMENT_APP_FILES } from "../../payload/sentiment-app.js";
import { resolveImageRef } from "./image-source.js";
import { CLOUD_INIT_PROBE, execCall, type ScriptRun, scriptRun } from "./instance-exec.js";
import {
  cloudInitNetwork,
  NETWORK_HOOK,
  renderNetworkScript,
  type StaticAddress,
} from "./instance-network.js";
import { APP_SETUP_SCRIPT } from "./lab-payloads.js";
import { LAB_MARKER_KEY, type LxdInstancePlan, type LxdLabOptions, ROLE_KEY } from "./lxd-lab-options.js";
import { type CloudInitKeys, plannedPayloadMode } from "./payload-mode.js";

/** Devices every lab instance has: its root disk on the chosen pool and eth0 on the lab bridge. */
export function instanceDevices(o: LxdLabOptions): LxdDevices {
  return {
    root: { type: "disk", path: "/", pool: o.storagePool },
    eth0: { type: "nic", network: o.bridge, name: "eth0" },
  };
}

/** What cloud-init gets when the image has it: the payload's user-data and the static address on eth0. */
export interface LaunchCloudInit {
  keys: CloudInitKeys;
  userData: string;
  address?: StaticAddress;
}

/**
 * The instance a launch step creates, through core's one LXD node body (lxd-node.ts): the lab's marker
 * and role keys, root disk on the lab's pool, eth0 on the lab bridge, and cloud-init's keys when the
 * image has cloud-init (otherwise the address is set by the network script, see `networkScript`).
 */
export function launchBody(
  o: LxdLabOptions,
  plan: LxdInstancePlan,
  cloudInit?: LaunchCloudInit,
): LxdInstancesPost {
  return lxdNodeBody({
    name: plan.instance,
    type: "container",
    description: `labgate lab ${o.lab}: ${plan.name}`,
    source: resolveImageRef(o.image).source,
    config: { [LAB_MARKER_KEY]: o.lab, [ROLE_KEY]: plan.role },
    devices: instanceDevices(o),
    ...(cloudInit
      ? {
          cloudInit: {
            keys: cloudInit.keys,
            userData: cloudInit.userData,
            ...(cloudInit.address ? { network: cloudInitNetwork(cloudInit.address) } : {}),
          },
        }
      : {}),
  });
}

const USER_DATA_SHOWN = "<#cloud-config below>";
const NETWORK_CONFIG_SHOWN = "<network-config below>";

/** The create call as shown: the body sent, with cloud-init's documents (shown on their own lines) as placeholders. */
export function createCall(body: LxdInstancesPost, keys?: CloudInitKeys): StepCall {
  const shown = keys
    ? {
        ...body,
        config: {
          ...body.config,
          [keys.userData]: USER_DATA_SHOWN,
          [keys.networkConfig]: NETWORK_CONFIG_SHOWN,
        },
      }
    : body;
  return { kind: "http", display: `POST /1.0/instances ${JSON.stringify(shown)}` };
}

export function startCall(instance: string): StepCall {
  return { kind: "http", display: instanceStateCall(instance, "start") };
}

/** Static address for images without cloud-init: the script pushed into the instance, run now and kept as a boot hook. */
export function networkScript(o: LxdLabOptions, plan: LxdInstancePlan, address?: StaticAddress): ScriptRun {
  const cidr = address ? `${address.ip}/${address.prefix}` : "<address>/<prefix>";
  return scriptRun(
    plan.instance,
    NETWORK_HOOK,
    address ? renderNetworkScript(address) : "",
    `ip addr replace ${cidr} dev eth0; ip route replace default via ${o.gateway}`,
  );
}

const note = (display: string): StepCall => ({ display });

/**
 * What the launch step sends, with the address once it is allocated. The cloud-init variant (spec
 * `payload: cloud-init`, or an image named like a cloud image) sets `cloud-init.network-config` and
 * `cloud-init.user-data` at create; the push variant runs `ip` through the API and keeps a boot hook.
 * With `payload: auto` and another image, both are shown: which one runs depends on the image.
 */
export function launchCalls(o: LxdLabOptions, plan: LxdInstancePlan, address?: StaticAddress): StepCall[] {
  const cidr = address ? `${address.ip}/${address.prefix}` : "<address>/<prefix>";
  const wait = note("GET /1.0/operations/<id>/wait after each call");
  const mode = plannedPayloadMode(o);
  const keys = LXD_CLOUD_INIT_KEYS;
  const body = launchBody(o, plan, { keys, userData: "", ...(address ? { address } : {}) });
  const networkConfig = body.config?.[keys.networkConfig];
  const cloudInit = [
    createCall(body, keys),
    note(
      `# cloud-init.network-config: ${networkConfig ? JSON.stringify(parse(networkConfig)) : `{"version":2,"ethernets":{"eth0":{"addresses":["${cidr}"],"routes":[{"to":"0.0.0.0/0","via":"${o.gateway}"}]}}}`}`,
    ),
    note(`# cloud-init.user-data: #cloud-config ${userDataSummary(plan)}`),
    note(
      "# (LXD without the cloud_init API extension: the same values under user.network-config / user.user-data)",
    ),
    startCall(plan.instance),
    execCall(
      plan.instance,
      CLOUD_INIT_PROBE,
      "does the image have cloud-init? if not, the network script is pushed as in the push variant",
    ),
    note(
      `GET /1.0/instances/${plan.instance}/state until eth0 has ${address?.ip ?? "<address>"}   # cloud-init applies the network-config at first boot`,
    ),
    wait,
  ];
  const push = [
    createCall(launchBody(o, plan)),
    startCall(plan.instance),
    ...networkScript(o, plan, address).calls,
    wait,
  ];
  if (mode === "cloud-init") return cloudInit;
  if (mode === "push") return push;
  return [
    note(
      "# payload auto: if the image has cloud-init (property labgate.cloud_init=true, variant cloud, or Ubuntu):",
    ),
    ...cloudInit,
    note("# otherwise:"),
    ...push,
  ];
}

function userDataSummary(plan: LxdInstancePlan): string {
  return plan.role === "lb"
    ? `write_files ${LB_CONFIG_STAGING_PATH} (the rendered haproxy.cfg), ${LB_FALLBACK_CONFIG_PATH}, ${LB_SETUP_SCRIPT_PATH}; runcmd: sh ${LB_SETUP_SCRIPT_PATH}`
    : `write_files ${APP_INSTALL_DIR}/{${SENTIMENT_APP_FILES.join(",")}}, /etc/systemd/system/${APP_SERVICE_NAME}.service, ${APP_SETUP_SCRIPT}; runcmd: sh ${APP_SETUP_SCRIPT}`;
}

/** The instance's status and global IPv4 addresses (core's checked GET /1.0/instances/NAME/state). */
export async function instanceAddress(
  client: LxdClient,
  name: string,
): Promise<{ status: string; ips: string[] }> {
  const state = await lxdNodeState(client, name);
  return state ? { status: state.status, ips: state.addresses } : { status: "missing", ips: [] };
}
