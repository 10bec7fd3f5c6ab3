import type { LxdClient, LxdWaitOptions } from "../platforms/lxd/lxd-client.js";
import { LxdNotFoundError } from "../platforms/lxd/lxd-errors.js";
import type { LxdConfig, LxdDevices, LxdInstanceSource, LxdInstancesPost } from "../platforms/lxd/types.js";
import { renderNetworkConfig } from "./cloud-init.js";
import { describeValue, invalidResponse, isRecord, type Shape } from "./response-shape.js";
import type { NodeState, WaitOptions } from "./types.js";
import { pollUntil } from "./wait.js";

/**
 * An LXD instance as a node: the one request body, create+start, get (state and global IPv4 addresses),
 * destroy and the wait until it runs. The deploy adapter (adapters/lxd.ts) and the LXD lab's launch step
 * both make their instances here, each passing its own extras (limits, markers, devices, cloud-init).
 */

/** The config keys cloud-init reads: `cloud-init.*` since LXD's "cloud_init" API extension, `user.*` before. */
export interface LxdCloudInitKeys {
  userData: string;
  networkConfig: string;
}

export const LXD_CLOUD_INIT_KEYS: LxdCloudInitKeys = {
  userData: "cloud-init.user-data",
  networkConfig: "cloud-init.network-config",
};

export const LXD_LEGACY_CLOUD_INIT_KEYS: LxdCloudInitKeys = {
  userData: "user.user-data",
  networkConfig: "user.network-config",
};

/** What a caller wants of its instance; everything it sets is its own (limits, ownership markers, NICs). */
export interface LxdNodeSpec {
  name: string;
  type?: "container" | "virtual-machine";
  description?: string;
  source: LxdInstanceSource;
  /** Config keys of the caller (limits, user.* markers); cloud-init's keys are added from `cloudInit`. */
  config?: LxdConfig;
  devices: LxdDevices;
  /** Without it the instance gets no cloud-init keys (images without cloud-init get their address otherwise). */
  cloudInit?: {
    /** #cloud-config user-data (cloud-init.ts renderCloudConfig). */
    userData: string;
    /** network-config version 2 (cloud-init.ts staticNetworkConfig), rendered here by the one renderer. */
    network?: Record<string, unknown>;
    /** Default: the `cloud-init.*` keys. */
    keys?: LxdCloudInitKeys;
  };
}

/** POST /1.0/instances for a node: the caller's config first, then cloud-init's user-data and network-config. */
export function lxdNodeBody(node: LxdNodeSpec): LxdInstancesPost {
  const config: LxdConfig = { ...node.config };
  if (node.cloudInit) {
    const keys = node.cloudInit.keys ?? LXD_CLOUD_INIT_KEYS;
    config[keys.userData] = node.cloudInit.userData;
    if (node.cloudInit.network) config[keys.networkConfig] = renderNetworkConfig(node.cloudInit.network);
  }
  return {
    name: node.name,
    type: node.type ?? "container",
    ...(node.description !== undefined ? { description: node.description } : {}),
    source: node.source,
    config,
    devices: node.devices,
  };
}

export interface LxdNodeCallOptions extends LxdWaitOptions {
  /** Told about each mutating call as it is made. */
  onCall?: (description: string) => void;
}

/** Creates the instance from its body and starts it (each waits for its LXD operation). */
export async function createLxdNode(
  client: LxdClient,
  body: LxdInstancesPost,
  options: LxdNodeCallOptions = {},
): Promise<void> {
  const { onCall, ...wait } = options;
  onCall?.(`POST /1.0/instances (${body.name})`);
  await client.createInstance(body, wait);
  await startLxdNode(client, body.name, options);
}

export async function startLxdNode(
  client: LxdClient,
  name: string,
  options: LxdNodeCallOptions = {},
): Promise<void> {
  const { onCall, ...wait } = options;
  onCall?.(`PUT /1.0/instances/${name}/state start`);
  await client.setInstanceState(name, "start", wait);
}

/** What LXD says of a node: its record (config, devices) and its live state (status, global IPv4 addresses). */
export interface LxdNodeInfo {
  name: string;
  /** LXD's word: Running, Stopped, ... */
  status: string;
  state: NodeState;
  config: LxdConfig;
  devices: LxdDevices;
  /** inet addresses of global scope on every NIC but lo. */
  addresses: string[];
}

/** The instance's record, checked; undefined when LXD has no instance of that name. */
export async function getLxdInstance(
  client: LxdClient,
  name: string,
): Promise<{ status: string | undefined; config: LxdConfig; devices: LxdDevices } | undefined> {
  return checkLxd(`GET /1.0/instances/${name}`, await client.getInstance(name), INSTANCE);
}

/** The node as LXD has it now (record and state), undefined when it does not exist. */
export async function getLxdNode(client: LxdClient, name: string): Promise<LxdNodeInfo | undefined> {
  const instance = await getLxdInstance(client, name);
  if (!instance) return undefined;
  const live = await lxdNodeState(client, name);
  if (!live) return undefined;
  return { name, ...live, config: instance.config, devices: instance.devices };
}

/** GET /1.0/instances/NAME/state, checked: status, normalised state and global IPv4 addresses; undefined when gone. */
export async function lxdNodeState(
  client: LxdClient,
  name: string,
): Promise<{ status: string; state: NodeState; addresses: string[] } | undefined> {
  let raw: unknown;
  try {
    raw = await client.getInstanceState(name);
  } catch (error) {
    if (error instanceof LxdNotFoundError) return undefined;
    throw error;
  }
  const state = checkLxd(`GET /1.0/instances/${name}/state`, raw, INSTANCE_STATE);
  const addresses = Object.entries(state.network)
    .filter(([nic]) => nic !== "lo")
    .flatMap(([, nic]) =>
      nic.addresses.filter((a) => a.family === "inet" && a.scope === "global").map((a) => a.address),
    );
  return { status: state.status, state: lxdState(state.status), addresses };
}

/**
 * Force-stops the instance unless it is stopped, then deletes it; an instance already gone is not an
 * error. `owned` (when given) must accept the instance's config first: what it refuses is left in place.
 */
export async function destroyLxdNode(
  client: LxdClient,
  name: string,
  options: LxdNodeCallOptions & { owned?: (config: LxdConfig) => boolean } = {},
): Promise<"destroyed" | "absent" | "not-owned"> {
  const { onCall, owned, ...wait } = options;
  const instance = await getLxdInstance(client, name);
  if (!instance) return "absent";
  if (owned && !owned(instance.config)) return "not-owned";
  try {
    if (instance.status !== "Stopped") {
      onCall?.(`PUT /1.0/instances/${name}/state stop (force)`);
      await client.setInstanceState(name, "stop", { ...wait, force: true });
    }
    onCall?.(`DELETE /1.0/instances/${name}`);
    await client.deleteInstance(name, wait);
  } catch (error) {
    if (error instanceof LxdNotFoundError) return "absent";
    throw error;
  }
  return "destroyed";
}

/** Polls the node until LXD says Running; gone, or in Error, fails at once. */
export function waitLxdNodeRunning(
  client: LxdClient,
  name: string,
  options: WaitOptions = {},
): Promise<{ status: string; state: NodeState; addresses: string[] }> {
  return pollUntil(
    `Waiting for lxd node ${name} to run`,
    () => lxdNodeState(client, name),
    (s) => s?.state === "running",
    {
      ...options,
      failed: (s) =>
        s === undefined
          ? "the node no longer exists"
          : s.state === "error"
            ? `the node is ${s.state} (${s.status})`
            : undefined,
    },
  ) as Promise<{ status: string; state: NodeState; addresses: string[] }>;
}

export function lxdState(status: string): NodeState {
  switch (status) {
    case "Running":
      return "running";
    case "Stopped":
    case "Frozen":
      return "stopped";
    case "Starting":
    case "Pending":
      return "pending";
    case "Stopping":
      return "stopping";
    case "Error":
      return "error";
    default:
      return "unknown";
  }
}

/** An instance (GET /1.0/instances/{name}); undefined (404) passes as "absent". */
const INSTANCE = {
  expects: "an instance object with a config map",
  check: (v: unknown) => {
    if (v === undefined) return null;
    if (!isRecord(v) || !isRecord(v.config)) return undefined;
    const devices = v.devices ?? {};
    if (!isRecord(devices) || (v.status !== undefined && typeof v.status !== "string")) return undefined;
    return {
      status: v.status as string | undefined,
      config: v.config as LxdConfig,
      devices: devices as LxdDevices,
    };
  },
} satisfies Shape<{
  status: string | undefined;
  config: LxdConfig;
  devices: LxdDevices;
} | null>;

const STATUSES = ["Running", "Stopped", "Frozen", "Starting", "Pending", "Stopping", "Error", "Ready"];

interface NicAddress {
  family: string;
  address: string;
  scope: string;
}

/** GET /1.0/instances/{name}/state (InstanceState): status and, per NIC, its addresses. */
const INSTANCE_STATE = {
  expects: `an instance state (status ${STATUSES.join("/")}, network: {nic: {addresses: [...]}})`,
  check: (v: unknown) => {
    if (!isRecord(v) || typeof v.status !== "string" || !STATUSES.includes(v.status)) return undefined;
    const network = v.network ?? {};
    if (!isRecord(network)) return undefined;
    const nics: Record<string, { addresses: NicAddress[] }> = {};
    for (const [name, nic] of Object.entries(network)) {
      const list = isRecord(nic) ? nic.addresses : undefined;
      if (
        !Array.isArray(list) ||
        !list.every(
          (a) =>
            isRecord(a) &&
            typeof a.family === "string" &&
            typeof a.address === "string" &&
            typeof a.scope === "string",
        )
      )
        return undefined;
      nics[name] = { addresses: list as NicAddress[] };
    }
    return { status: v.status, network: nics };
  },
} satisfies Shape<{ status: string; network: Record<string, { addresses: NicAddress[] }> }>;

/**
 * Checks what the LXD client handed back; a shape's null ("absent, and that is fine": a 404 instance) comes
 * back as undefined, so callers keep the client's "undefined = not there".
 */
function checkLxd<T>(what: string, value: unknown, shape: Shape<T>): T extends null ? undefined : T;
function checkLxd<T>(what: string, value: unknown, shape: Shape<T>): unknown {
  const checked = shape.check(value);
  if (checked === undefined)
    throw invalidResponse(
      "lxd",
      what,
      `expected ${shape.expects}, got ${describeValue(value)}`,
      undefined,
      undefined,
      "Is the socket really LXD's? Check LXD_SOCKET / the socket path option, and that LXD is a supported version (`lxc version`).",
    );
  return checked === null ? undefined : checked;
}
