import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec, ImageFormat, PlatformName } from "../deploy-rules/spec.js";

/**
 * One lifecycle vocabulary for every platform (libcloud's NodeState, trimmed): adapters map
 * "running"/"stopped" (Proxmox), POWERED_ON (vSphere), 16/80 (EC2), PowerState/running (Azure) onto it.
 */
export type NodeState = "pending" | "running" | "stopping" | "stopped" | "terminated" | "error" | "unknown";

export interface PlatformCapabilities {
  /** Whether lab networks on this platform hand out addresses by DHCP by default. */
  dhcpAvailable: boolean;
  /** The disk bus a Windows guest boots from without extra drivers. */
  windowsDiskBus: "sata" | "scsi" | "nvme" | "ide" | "virtio";
  /** Image formats the platform takes directly (others need conversion or are refused). */
  imageFormats: readonly ImageFormat[];
  /** Image formats the adapter converts before import (ESXi: qcow2/ova/raw → VMDK). */
  convertibleFormats: readonly ImageFormat[];
  cloneFromTemplate: boolean;
  /** How cloud-init (or its equivalent) gets the network and keys. */
  guestConfig:
    | "cloud-init-drive"
    | "guestinfo"
    | "user-data"
    | "custom-data"
    | "context"
    | "lxd-config"
    /** The local platform: LABGATE_* variables in the node process's environment. */
    | "environment";
}

/** A network with everything a static guest config needs, or DHCP. */
export type ResolvedNetwork =
  | {
      mode: "static";
      ip: string;
      prefix: number;
      netmask: string;
      gateway: string;
      dns: string[];
      /** Where the address came from: the spec, the pool, or the pool's fallback range. */
      source: "spec" | "pool" | "fallback";
      attach?: string;
    }
  /**
   * Cloud platforms with network.static: the platform pins the private address and still hands it out
   * by its own DHCP, so the guest keeps DHCP and only the address is sent (PrivateIpAddress, Static NIC).
   */
  | { mode: "fixed"; ip: string; attach?: string }
  | { mode: "dhcp"; attach?: string };

/** A spec after the rules ran and the network was resolved: what adapters plan and create from. */
export interface ResolvedSpec extends DeploySpec {
  platform: PlatformName;
  resolvedNetwork: ResolvedNetwork;
}

/** One API call or command a plan makes, printable as-is (no secrets). */
export interface PlannedCall {
  /** "probe": a read-only check this machine makes (the local platform's /proc and TCP polls). */
  kind: "http" | "sdk" | "xmlrpc" | "command" | "probe";
  /** HTTP method, SDK command name, XML-RPC method or program. */
  action: string;
  /** Path, resource or command line. */
  target: string;
  params?: Record<string, unknown>;
  why: string;
  /** Where a command runs: this machine or the hypervisor host (ESXi shell). */
  where?: "local" | "host";
}

export interface DeploymentPlan {
  platform: PlatformName;
  name: string;
  network: ResolvedNetwork;
  calls: PlannedCall[];
}

/** What identifies a created node, stored in the deploy state so destroy finds it again. */
export interface NodeRef {
  platform: PlatformName;
  id: string;
  name: string;
  /** Platform coordinates: Proxmox node, Azure resource group, AWS region, ... */
  location?: Record<string, string>;
}

export interface NodeInfo {
  ref: NodeRef;
  state: NodeState;
  /** The platform's own word for the state, for people. */
  rawState: string;
  addresses: string[];
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Told about each API call as it is made (printable, redacted). */
  onCall?: (description: string) => void;
  /**
   * Awaited before each call that changes the platform, with the node it is about (the id it will
   * get, when the platform lets the caller choose): deploy records the intent durably here, so a
   * process killed mid-call leaves a record that finds the node again.
   */
  beforeMutation?: (ref: NodeRef) => Promise<void>;
}

export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  intervalMs?: number;
}

/**
 * Every platform behind one interface, shaped like a libcloud node driver with Terraform's
 * lifecycle: validate and plan are pure; create/start/stop/destroy talk to the platform.
 */
export interface PlatformAdapter {
  readonly name: PlatformName;
  readonly capabilities: PlatformCapabilities;
  /** Platform-specific findings (the shared rules live in deploy-rules). */
  validate(spec: DeploySpec): Finding[];
  plan(spec: ResolvedSpec): DeploymentPlan;
  create(spec: ResolvedSpec, options?: CallOptions): Promise<NodeRef>;
  /** Undefined when the node does not exist (any more). */
  get(ref: NodeRef, options?: CallOptions): Promise<NodeInfo | undefined>;
  start(ref: NodeRef, options?: CallOptions): Promise<void>;
  stop(ref: NodeRef, options?: CallOptions): Promise<void>;
  /** Removes the node; a node that is already gone is not an error. */
  destroy(ref: NodeRef, options?: CallOptions): Promise<void>;
  waitUntilRunning(ref: NodeRef, options?: WaitOptions): Promise<NodeInfo>;
  /**
   * Nodes on the platform that carry this name (templates excluded): how an interrupted apply finds
   * what it may have created before its record was complete. Adapters without it cannot resume.
   * An adapter that implements it must call `beforeMutation` (with the node's id) before every call
   * that changes the platform: a record without an id then means nothing was sent.
   */
  findByName?(name: string, options?: CallOptions): Promise<NodeRef[]>;
  /**
   * What an interrupted apply left, given the node it recorded before its last mutating call. Adapters
   * whose platform names the node only in the create call's answer (EC2, OpenNebula, vSphere) or lets
   * a name be reused (Azure) announce a claim first (`location.intent`, see INTENT_KEY), stamp it on
   * what they create, and match it here: a node of the same name without the claim is never returned.
   * Without this method deploy keeps the nodes findByName returns with the recorded id.
   */
  findLeftovers?(intent: NodeRef, options?: CallOptions): Promise<NodeRef[]>;
}

/** NodeRef.location key of the claim an apply stamps on what it creates (a random token per apply). */
export const INTENT_KEY = "intent";
