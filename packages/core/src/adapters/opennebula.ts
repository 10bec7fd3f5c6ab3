import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { OpenNebulaClient, type OpenNebulaClientOptions } from "../platforms/opennebula/client.js";
import { templateText } from "../platforms/opennebula/documents.js";
import type { TemplateObject } from "../platforms/opennebula/template-xml.js";
import { claimOf, nameTakenError, newClaim } from "./claims.js";
import {
  instantiateOneVm,
  type OneVmNode,
  oneNodeState,
  oneVmInstantiation,
  terminateOneVm,
} from "./opennebula-node.js";
import { missingOption, OptionReader } from "./options.js";
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
import { INTENT_KEY } from "./types.js";
import { waitForRunning } from "./wait.js";

/** The template attribute carrying the apply's claim (ours: OpenNebula keeps unknown attributes as given). */
const INTENT_ATTRIBUTE = "LABGATE_INTENT";

export interface OpenNebulaAdapterOptions {
  /** platform_options.opennebula: endpoint (or host), network (vnet name) or network_id. */
  spec?: DeploySpec;
  overrides?: Record<string, unknown>;
  /** Connection for the wrapped OpenNebulaClient; the session comes from ONE_AUTH / ONE_SESSION when not given. */
  client?: OpenNebulaClient | OpenNebulaClientOptions;
  pollIntervalMs?: number;
}

/**
 * OpenNebula (LXD/LXC or KVM hosts) through the XML-RPC client in platforms/opennebula: instantiate a
 * VM template with the static address in CONTEXT (one-context applies ETH0_*) and on the NIC.
 */
export class OpenNebulaAdapter implements PlatformAdapter {
  readonly name = "opennebula" as const;
  readonly capabilities: PlatformCapabilities = {
    dhcpAvailable: false,
    windowsDiskBus: "sata",
    imageFormats: ["qcow2", "raw", "img"],
    convertibleFormats: [],
    cloneFromTemplate: true,
    guestConfig: "context",
  };
  private clientInstance: OpenNebulaClient | undefined;

  constructor(private readonly options: OpenNebulaAdapterOptions = {}) {
    if (options.client instanceof OpenNebulaClient) this.clientInstance = options.client;
  }

  validate(spec: DeploySpec): Finding[] {
    const out: Finding[] = [];
    const o = this.reader(spec);
    if (spec.template_id !== undefined && !/^\d+$/.test(spec.template_id)) {
      out.push({
        code: "ONE_TEMPLATE_ID",
        severity: "error",
        field: "template_id",
        message: `OpenNebula template ids are integers, got "${spec.template_id}".`,
        fix: "Use the id from onetemplate list.",
      });
    }
    if (spec.template_id === undefined) {
      out.push({
        code: "ONE_TEMPLATE_REQUIRED",
        severity: "error",
        field: "template_id",
        message: "The OpenNebula adapter instantiates a VM template.",
        fix: "Create a template (onetemplate create) and set template_id.",
      });
    }
    if (!o.string("network") && !o.string("network_id") && !spec.network.attach)
      out.push(missingOption("opennebula", "network", '"lab-net"'));
    return out;
  }

  plan(spec: ResolvedSpec): DeploymentPlan {
    // The create call as planned is the one create makes (opennebula-node.ts), with the claim's placeholder.
    const instantiation = oneVmInstantiation(this.node(spec, "<random per apply>"));
    const [, name, , extraTemplate] = instantiation.params;
    return {
      platform: "opennebula",
      name: spec.name,
      network: spec.resolvedNetwork,
      calls: [
        {
          kind: "xmlrpc",
          action: "one.vmpool.info",
          target: `VMs named ${spec.name}, DONE left out`,
          why: "A VM of this name that this apply did not make is refused, never adopted or replaced.",
        },
        {
          kind: "xmlrpc",
          action: instantiation.method,
          target: `template ${spec.template_id}`,
          why: `Instantiate the template with size, NIC and contextualised network; ${INTENT_ATTRIBUTE} carries a claim recorded before the call, so an interrupted apply finds its VM.`,
          params: { name, extra_template: extraTemplate },
        },
        { kind: "xmlrpc", action: "one.vm.info", target: "<new VM id>", why: "Poll until ACTIVE/RUNNING." },
      ],
    };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    const taken = await this.findByName(spec.name, call);
    if (taken.length > 0) throw nameTakenError("opennebula", spec.name, taken);
    const claim = newClaim();
    const location = { [INTENT_KEY]: claim };
    // oned picks the VM id in its answer: the claim the VM will carry is on disk before the call.
    await call.beforeMutation?.({ platform: "opennebula", id: "", name: spec.name, location });
    const id = await instantiateOneVm(this.client(call), this.node(spec, claim));
    return { platform: "opennebula", id: String(id), name: spec.name, location };
  }

  /**
   * VMs of this name that are not DONE (one.vmpool.info, filter -1 of the pool: every state but DONE), each
   * with its claim from one.vm.info (the pool's short body leaves template attributes out).
   */
  async findByName(name: string, call: CallOptions = {}): Promise<NodeRef[]> {
    const client = this.client(call);
    const named = (await client.vmPool()).filter((vm) => vm.name === name && vm.stateName !== "DONE");
    const refs: NodeRef[] = [];
    for (const { id } of named) {
      const vm = await client.vmInfo(id).catch((error: { code?: string }) => {
        if (error.code === "ONE_NOT_FOUND") return undefined; // gone between the two calls
        throw error;
      });
      if (!vm || vm.stateName === "DONE") continue;
      const claim =
        templateText(vm.template, INTENT_ATTRIBUTE) || templateText(vm.userTemplate, INTENT_ATTRIBUTE);
      refs.push({
        platform: "opennebula",
        id: String(id),
        name,
        ...(claim ? { location: { [INTENT_KEY]: claim } } : {}),
      });
    }
    return refs;
  }

  /**
   * The VM carrying the interrupted apply's claim. destroy then waits out a transient state (terminate is
   * refused in some) and ends at DONE: a VM already dying is never taken up again.
   */
  async findLeftovers(intent: NodeRef, call: CallOptions = {}): Promise<NodeRef[]> {
    const claim = claimOf(intent);
    const found = await this.findByName(intent.name, call);
    return found.filter((r) => (claim ? claimOf(r) === claim : r.id === intent.id));
  }

  async get(ref: NodeRef, call: CallOptions = {}): Promise<NodeInfo | undefined> {
    try {
      const vm = await this.client(call).vmInfo(Number(ref.id));
      const state = oneNodeState(vm);
      return { ref, state, rawState: vm.label, addresses: vm.nics.map((n) => n.ip).filter(Boolean) };
    } catch (error) {
      if ((error as { code?: string }).code === "ONE_NOT_FOUND") return undefined;
      throw error;
    }
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await call.beforeMutation?.(ref);
    await this.client(call).vmAction("resume", Number(ref.id));
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    await call.beforeMutation?.(ref);
    await this.client(call).vmAction("poweroff", Number(ref.id));
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const info = await this.get(ref, call);
    if (!info || info.state === "terminated") return;
    // Terminate is asynchronous and refused in transient states: retry/recover and wait for DONE.
    await terminateOneVm(this.client(call), Number(ref.id), {
      intervalMs: this.options.pollIntervalMs ?? 3000,
      ...(call.signal ? { signal: call.signal } : {}),
    });
  }

  waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    return waitForRunning(() => this.get(ref, options.signal ? { signal: options.signal } : {}), ref, {
      intervalMs: this.options.pollIntervalMs ?? 3000,
      ...options,
    });
  }

  /** The template fragment merged at instantiation: sizes, NIC with its fixed IP, CONTEXT for one-context. */
  extraTemplate(spec: ResolvedSpec, claim?: string): string {
    return oneVmInstantiation(this.node(spec, claim)).params[3];
  }

  /** This spec's VM as a node (opennebula-node.ts): sizes, NIC with its fixed IP, CONTEXT, the claim. */
  node(spec: ResolvedSpec, claim?: string): OneVmNode {
    const o = this.reader(spec);
    const n = spec.resolvedNetwork;
    const network = n.attach ?? o.string("network");
    const nic: TemplateObject = network ? { NETWORK: network } : { NETWORK_ID: o.string("network_id") ?? "" };
    const context: TemplateObject = { NETWORK: "YES", SET_HOSTNAME: spec.name };
    if (n.mode === "static") {
      nic.IP = n.ip;
      Object.assign(context, {
        ETH0_IP: n.ip,
        ETH0_MASK: n.netmask,
        ETH0_GATEWAY: n.gateway,
        ETH0_DNS: n.dns.join(" "),
      });
    }
    if (spec.ssh_authorized_keys?.length) context.SSH_PUBLIC_KEY = spec.ssh_authorized_keys.join("\n");
    return {
      templateId: Number(spec.template_id),
      name: spec.name,
      sizes: { CPU: spec.cores, VCPU: spec.cores, MEMORY: spec.memory_mib },
      nic,
      context,
      ...(claim ? { attributes: { [INTENT_ATTRIBUTE]: claim } } : {}),
    };
  }

  private client(call: CallOptions): OpenNebulaClient {
    if (this.clientInstance && !call.onCall) return this.clientInstance;
    const o = this.reader(undefined);
    const given = this.options.client instanceof OpenNebulaClient ? undefined : this.options.client;
    const endpoint = o.string("endpoint");
    const host = o.string("host");
    const client = new OpenNebulaClient({
      ...(endpoint ? { endpoint } : {}),
      ...(host ? { host } : {}),
      ...given,
      ...(call.onCall ? { onCall: call.onCall } : {}),
    });
    if (!call.onCall) this.clientInstance = client;
    return client;
  }

  private reader(spec: DeploySpec | undefined): OptionReader {
    return new OptionReader("opennebula", spec ?? this.options.spec, this.options.overrides ?? {});
  }
}
