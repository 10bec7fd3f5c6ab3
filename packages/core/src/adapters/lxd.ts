import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { LxdClient } from "../platforms/lxd/lxd-client.js";
import type { LxdInstancesPost } from "../platforms/lxd/types.js";
import { cloudInitUserData, networkConfig } from "./cloud-init.js";
import {
  createLxdNode,
  destroyLxdNode,
  getLxdInstance,
  getLxdNode,
  type LxdNodeCallOptions,
  lxdNodeBody,
  startLxdNode,
  waitLxdNodeRunning,
} from "./lxd-node.js";
import { OptionReader } from "./options.js";
import type {
  CallOptions,
  DeploymentPlan,
  NodeInfo,
  NodeRef,
  PlatformAdapter,
  PlatformCapabilities,
  ResolvedSpec,
  WaitOptions,
} from "./types.js";

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
    await createLxdNode(this.client(), this.body(spec), nodeCall(call));
    return ref;
  }

  /**
   * The instance of this name, if labgate made it (it carries `user.labgate.deploy`): instance names are
   * unique in a project, so an instance someone else made under the same name is never taken for ours.
   */
  async findByName(name: string): Promise<NodeRef[]> {
    const instance = await getLxdInstance(this.client(), name);
    return instance?.config[OWNER_KEY] === name ? [{ platform: "lxd", id: name, name }] : [];
  }

  async get(ref: NodeRef): Promise<NodeInfo | undefined> {
    const node = await getLxdNode(this.client(), ref.id);
    if (!node) return undefined;
    return { ref, state: node.state, rawState: node.status, addresses: node.addresses };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await call.beforeMutation?.(ref);
    await startLxdNode(this.client(), ref.id, nodeCall(call));
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
    await destroyLxdNode(this.client(), ref.id, nodeCall(call));
  }

  async waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    const node = await waitLxdNodeRunning(this.client(), ref.id, {
      intervalMs: this.options.pollIntervalMs ?? 1000,
      ...options,
    });
    return { ref, state: node.state, rawState: node.status, addresses: node.addresses };
  }

  body(spec: ResolvedSpec): LxdInstancesPost {
    const o = this.reader(spec);
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
    const network = networkConfig(spec);
    return lxdNodeBody({
      name: spec.name,
      type: o.string("type") === "virtual-machine" ? "virtual-machine" : "container",
      source,
      config: {
        "limits.cpu": String(spec.cores),
        "limits.memory": `${spec.memory_mib}MiB`,
        // Marks the instance as this deployment's, so an interrupted apply finds it (findByName).
        [OWNER_KEY]: spec.name,
      },
      devices: { eth0: nic, root },
      cloudInit: { userData: cloudInitUserData(spec), ...(network ? { network } : {}) },
    });
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

/** A user.* key: LXD keeps it as given and never acts on it. */
const OWNER_KEY = "user.labgate.deploy";

/** The adapter's call options as the node operations take them. */
function nodeCall(call: CallOptions): LxdNodeCallOptions {
  return {
    ...(call.signal ? { signal: call.signal } : {}),
    ...(call.onCall ? { onCall: call.onCall } : {}),
  };
}
