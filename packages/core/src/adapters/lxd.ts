import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { LxdClient } from "../platforms/lxd/lxd-client.js";
import type { LxdInstancesPost } from "../platforms/lxd/types.js";
import { cloudInitUserData, networkConfig, renderNetworkConfig } from "./cloud-init.js";
import { OptionReader } from "./options.js";
import { describeValue, invalidResponse, isRecord, type Shape } from "./response-shape.js";
import type {
  CallOptions,
  DeploymentPlan,
  NodeInfo,
  NodeRef,
  NodeState,
  PlatformAdapter,
  PlatformCapabilities,
  ResolvedSpec,
  WaitOptions,
} from "./types.js";
import { waitForRunning } from "./wait.js";

export interface LxdAdapterOptions {
  /** platform_options.lxd: type (container | virtual-machine), storage_pool, project, socket_path. */
  spec?: DeploySpec;
  overrides?: Record<string, unknown>;
  client?: LxdClient;
  pollIntervalMs?: number;
}

/**
 * LXD (containers or VMs) through the REST client in platforms/lxd. On bridged networks without
 * DHCP the static address goes to cloud-init (cloud-init.network-config); the NIC joins network.attach.
 */
export class LxdAdapter implements PlatformAdapter {
  readonly name = "lxd" as const;
  readonly capabilities: PlatformCapabilities = {
    dhcpAvailable: false,
    windowsDiskBus: "nvme",
    imageFormats: ["lxd"],
    convertibleFormats: [],
    cloneFromTemplate: true,
    guestConfig: "lxd-config",
  };
  private clientInstance: LxdClient | undefined;

  constructor(private readonly options: LxdAdapterOptions = {}) {
    this.clientInstance = options.client;
  }

  validate(spec: DeploySpec): Finding[] {
    const out: Finding[] = [];
    if (!spec.network.attach) {
      out.push({
        code: "LXD_NETWORK_REQUIRED",
        severity: "error",
        field: "network.attach",
        message: "LXD needs the network (managed network name or host bridge) the instance joins.",
        fix: 'Set "network": {"attach": "labbr0", ...}.',
      });
    }
    if (spec.os.family === "windows" && this.reader(spec).string("type") !== "virtual-machine") {
      out.push({
        code: "LXD_WINDOWS_NEEDS_VM",
        severity: "error",
        field: "platform_options.lxd.type",
        message: "Windows cannot run in a container.",
        fix: '"platform_options": {"lxd": {"type": "virtual-machine"}}.',
      });
    }
    if (spec.template_id === undefined && !spec.image?.ref) {
      out.push({
        code: "LXD_IMAGE_REQUIRED",
        severity: "error",
        field: "image.ref",
        message: "LXD needs an image alias (image.ref) or an instance to copy (template_id).",
        fix: 'E.g. "image": {"ref": "ubuntu/22.04"}.',
      });
    }
    return out;
  }

  plan(spec: ResolvedSpec): DeploymentPlan {
    return {
      platform: "lxd",
      name: spec.name,
      network: spec.resolvedNetwork,
      calls: [
        {
          kind: "http",
          action: "POST",
          target: "/1.0/instances",
          why: "Create the instance (wait for the operation).",
          params: this.body(spec) as unknown as Record<string, unknown>,
        },
        {
          kind: "http",
          action: "PUT",
          target: `/1.0/instances/${spec.name}/state`,
          why: "Start it.",
          params: { action: "start" },
        },
        {
          kind: "http",
          action: "GET",
          target: `/1.0/instances/${spec.name}/state`,
          why: "Poll until Running.",
        },
      ],
    };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    const ref: NodeRef = { platform: "lxd", id: spec.name, name: spec.name };
    await call.beforeMutation?.(ref);
    call.onCall?.(`POST /1.0/instances (${spec.name})`);
    await this.client().createInstance(this.body(spec), call.signal ? { signal: call.signal } : {});
    await this.start(ref, call);
    return ref;
  }

  /**
   * The instance of this name, if labgate made it (it carries `user.labgate.deploy`): instance names are
   * unique in a project, so an instance someone else made under the same name is never taken for ours.
   */
  async findByName(name: string): Promise<NodeRef[]> {
    const instance = checkLxd(`GET /1.0/instances/${name}`, await this.client().getInstance(name), INSTANCE);
    return instance?.config[OWNER_KEY] === name ? [{ platform: "lxd", id: name, name }] : [];
  }

  async get(ref: NodeRef): Promise<NodeInfo | undefined> {
    const instance = checkLxd(
      `GET /1.0/instances/${ref.id}`,
      await this.client().getInstance(ref.id),
      INSTANCE,
    );
    if (!instance) return undefined;
    const state = checkLxd(
      `GET /1.0/instances/${ref.id}/state`,
      await this.client().getInstanceState(ref.id),
      INSTANCE_STATE,
    );
    const addresses = Object.entries(state.network)
      .filter(([name]) => name !== "lo")
      .flatMap(([, nic]) =>
        nic.addresses.filter((a) => a.family === "inet" && a.scope === "global").map((a) => a.address),
      );
    return { ref, state: lxdState(state.status), rawState: state.status, addresses };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await call.beforeMutation?.(ref);
    call.onCall?.(`PUT /1.0/instances/${ref.id}/state start`);
    await this.client().setInstanceState(ref.id, "start", call.signal ? { signal: call.signal } : {});
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    call.onCall?.(`PUT /1.0/instances/${ref.id}/state stop`);
    await this.client().setInstanceState(ref.id, "stop", {
      force: false,
      timeoutSeconds: 60,
      ...(call.signal ? { signal: call.signal } : {}),
    });
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const info = await this.get(ref);
    if (!info) return;
    if (info.state === "running") await this.client().setInstanceState(ref.id, "stop", { force: true });
    call.onCall?.(`DELETE /1.0/instances/${ref.id}`);
    await this.client().deleteInstance(ref.id);
  }

  waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    return waitForRunning(() => this.get(ref), ref, {
      intervalMs: this.options.pollIntervalMs ?? 1000,
      ...options,
    });
  }

  body(spec: ResolvedSpec): LxdInstancesPost {
    const o = this.reader(spec);
    const config: Record<string, string> = {
      "limits.cpu": String(spec.cores),
      "limits.memory": `${spec.memory_mib}MiB`,
      "cloud-init.user-data": cloudInitUserData(spec),
      // Marks the instance as this deployment's, so an interrupted apply finds it (findByName).
      [OWNER_KEY]: spec.name,
    };
    const net = networkConfig(spec);
    if (net) config["cloud-init.network-config"] = renderNetworkConfig(net);
    const nic: Record<string, string> = { type: "nic", name: "eth0" };
    const attach = spec.resolvedNetwork.attach ?? "";
    if (o.bool("bridged") === true) {
      nic.nictype = "bridged";
      nic.parent = attach;
    } else nic.network = attach;
    const root: Record<string, string> = {
      type: "disk",
      path: "/",
      pool: o.string("storage_pool") ?? "default",
    };
    if (spec.disk_gb !== undefined) root.size = `${spec.disk_gb}GB`;
    const source: LxdInstancesPost["source"] =
      spec.template_id !== undefined
        ? ({ type: "copy", source: spec.template_id } as LxdInstancesPost["source"])
        : { type: "image", alias: spec.image?.ref ?? "" };
    return {
      name: spec.name,
      type: o.string("type") === "virtual-machine" ? "virtual-machine" : "container",
      config,
      devices: { eth0: nic, root },
      source,
    };
  }

  private client(): LxdClient {
    if (!this.clientInstance) {
      const o = this.reader(undefined);
      const socketPath = o.string("socket_path");
      const project = o.string("project");
      this.clientInstance = new LxdClient({
        ...(socketPath ? { socketPath } : {}),
        ...(project ? { project } : {}),
      });
    }
    return this.clientInstance;
  }

  private reader(spec: DeploySpec | undefined): OptionReader {
    return new OptionReader("lxd", spec ?? this.options.spec, this.options.overrides ?? {});
  }
}

/** An instance (GET /1.0/instances/{name}); undefined (404) passes as "absent". */
const INSTANCE = {
  expects: "an instance object with a config map",
  check: (v: unknown) =>
    v === undefined
      ? null
      : isRecord(v) && isRecord(v.config)
        ? { config: v.config as Record<string, unknown> }
        : undefined,
} satisfies Shape<{ config: Record<string, unknown> } | null>;

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

/** A user.* key: LXD keeps it as given and never acts on it. */
const OWNER_KEY = "user.labgate.deploy";

function lxdState(status: string): NodeState {
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
