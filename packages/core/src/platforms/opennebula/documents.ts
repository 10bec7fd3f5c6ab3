import { XMLParser } from "fast-xml-parser";
import {
  hostStateName,
  imageStateName,
  lcmStateName,
  vmStateLabel,
  vmStateName,
  vnetStateName,
} from "./states.js";

/**
 * Parsers for the XML documents the `one.*.info` methods return (schemas: share/doc/xsd in the
 * OpenNebula sources: host.xsd, vm.xsd, vnet.xsd, image.xsd, vmtemplate.xsd and their pools).
 * Only the fields the lab needs are typed; the raw template stays available.
 */
export class OneDocumentError extends Error {}

const REPEATED = new Set([
  "HOST_POOL.HOST",
  "VM_POOL.VM",
  "VNET_POOL.VNET",
  "IMAGE_POOL.IMAGE",
  "VMTEMPLATE_POOL.VMTEMPLATE",
  "AR_POOL.AR",
  "LEASES.LEASE",
  "HISTORY_RECORDS.HISTORY",
  "VMS.ID",
  "CLUSTERS.ID",
  "TEMPLATE.NIC",
  "TEMPLATE.DISK",
  "MARKETPLACEAPP_POOL.MARKETPLACEAPP",
]);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (_name, jpath) => {
    const parts = String(jpath).split(".");
    return REPEATED.has(parts.slice(-2).join("."));
  },
});

export type XmlNode = Record<string, unknown>;

function parseRoot(xml: string, root: string): XmlNode {
  let doc: XmlNode;
  try {
    doc = parser.parse(xml, true) as XmlNode;
  } catch (error) {
    throw new OneDocumentError(
      `OpenNebula returned malformed XML for <${root}>: ${(error as Error).message}`,
    );
  }
  const node = doc[root];
  if (node === "") return {};
  if (!node || typeof node !== "object")
    throw new OneDocumentError(`expected a <${root}> document from OpenNebula`);
  return node as XmlNode;
}

function str(node: XmlNode, key: string): string {
  const v = node[key];
  return typeof v === "string" ? v : v === undefined ? "" : String(v);
}

function int(node: XmlNode, key: string): number {
  const raw = str(node, key);
  const n = Number.parseInt(raw, 10);
  if (!Number.isFinite(n))
    throw new OneDocumentError(`OpenNebula document field ${key} is not a number: "${raw}"`);
  return n;
}

function child(node: XmlNode, key: string): XmlNode {
  const v = node[key];
  return v && typeof v === "object" && !Array.isArray(v) ? (v as XmlNode) : {};
}

function list(node: XmlNode, key: string): XmlNode[] {
  const v = node[key];
  if (Array.isArray(v)) return v.filter((x): x is XmlNode => typeof x === "object" && x !== null);
  return v && typeof v === "object" ? [v as XmlNode] : [];
}

export interface OneHost {
  id: number;
  name: string;
  state: number;
  stateName: string;
  imMad: string;
  vmMad: string;
  clusterId: number;
  vmIds: number[];
  /** TEMPLATE/ERROR: the monitoring error OpenNebula recorded (host in ERROR). */
  error?: string;
}

function host(node: XmlNode): OneHost {
  const error = str(child(node, "TEMPLATE"), "ERROR");
  const state = int(node, "STATE");
  return {
    id: int(node, "ID"),
    name: str(node, "NAME"),
    state,
    stateName: hostStateName(state),
    imMad: str(node, "IM_MAD"),
    vmMad: str(node, "VM_MAD"),
    clusterId: int(node, "CLUSTER_ID"),
    vmIds: (Array.isArray(child(node, "VMS").ID) ? (child(node, "VMS").ID as string[]) : []).map(Number),
    ...(error ? { error } : {}),
  };
}

export const parseHost = (xml: string): OneHost => host(parseRoot(xml, "HOST"));
export const parseHostPool = (xml: string): OneHost[] => list(parseRoot(xml, "HOST_POOL"), "HOST").map(host);

export interface OneNic {
  nicId: number;
  ip: string;
  mac: string;
  network: string;
  networkId: number;
}

export interface OneVm {
  id: number;
  name: string;
  state: number;
  lcmState: number;
  stateName: string;
  lcmStateName: string;
  /** "ACTIVE/RUNNING", "PENDING", "ACTIVE/BOOT_FAILURE" ... */
  label: string;
  deployId: string;
  nics: OneNic[];
  /** Host of the latest history record, if the VM was ever deployed. */
  hostname?: string;
  hostId?: number;
  /** USER_TEMPLATE/ERROR: why a deployment failed, as OpenNebula recorded it. */
  error?: string;
  template: XmlNode;
  /** USER_TEMPLATE: attributes users and tools add (labgate's claim may land here or in TEMPLATE). */
  userTemplate: XmlNode;
}

function vm(node: XmlNode): OneVm {
  const state = int(node, "STATE");
  const lcm = int(node, "LCM_STATE");
  const template = child(node, "TEMPLATE");
  const history = list(child(node, "HISTORY_RECORDS"), "HISTORY");
  const last = history[history.length - 1];
  const error = str(child(node, "USER_TEMPLATE"), "ERROR");
  return {
    id: int(node, "ID"),
    name: str(node, "NAME"),
    state,
    lcmState: lcm,
    stateName: vmStateName(state),
    lcmStateName: lcmStateName(lcm),
    label: vmStateLabel(state, lcm),
    deployId: str(node, "DEPLOY_ID"),
    nics: list(template, "NIC").map((nic) => ({
      nicId: Number.parseInt(str(nic, "NIC_ID") || "0", 10),
      ip: str(nic, "IP"),
      mac: str(nic, "MAC"),
      network: str(nic, "NETWORK"),
      networkId: Number.parseInt(str(nic, "NETWORK_ID") || "-1", 10),
    })),
    ...(last ? { hostname: str(last, "HOSTNAME"), hostId: int(last, "HID") } : {}),
    ...(error ? { error } : {}),
    template,
    userTemplate: child(node, "USER_TEMPLATE"),
  };
}

export const parseVm = (xml: string): OneVm => vm(parseRoot(xml, "VM"));
export const parseVmPool = (xml: string): OneVm[] => list(parseRoot(xml, "VM_POOL"), "VM").map(vm);

export interface OneLease {
  ip: string;
  mac: string;
  /** VM id holding the lease; -1 when it is on hold. */
  vm: number;
}

export interface OneAddressRange {
  arId: number;
  type: string;
  ip: string;
  size: number;
  leases: OneLease[];
}

export interface OneVnet {
  id: number;
  name: string;
  state: number;
  stateName: string;
  bridge: string;
  vnMad: string;
  usedLeases: number;
  addressRanges: OneAddressRange[];
  template: XmlNode;
}

function vnet(node: XmlNode): OneVnet {
  // Older releases (< 5.12) have no STATE: a listed network is usable.
  const state = node.STATE === undefined ? 1 : int(node, "STATE");
  return {
    id: int(node, "ID"),
    name: str(node, "NAME"),
    state,
    stateName: vnetStateName(state),
    bridge: str(node, "BRIDGE"),
    vnMad: str(node, "VN_MAD"),
    usedLeases: Number.parseInt(str(node, "USED_LEASES") || "0", 10),
    addressRanges: list(child(node, "AR_POOL"), "AR").map((ar) => ({
      arId: int(ar, "AR_ID"),
      type: str(ar, "TYPE"),
      ip: str(ar, "IP"),
      size: int(ar, "SIZE"),
      leases: list(child(ar, "LEASES"), "LEASE").map((l) => ({
        ip: str(l, "IP"),
        mac: str(l, "MAC"),
        vm: Number.parseInt(str(l, "VM") || "-1", 10),
      })),
    })),
    template: child(node, "TEMPLATE"),
  };
}

export const parseVnet = (xml: string): OneVnet => vnet(parseRoot(xml, "VNET"));
export const parseVnetPool = (xml: string): OneVnet[] => list(parseRoot(xml, "VNET_POOL"), "VNET").map(vnet);

export interface OneImage {
  id: number;
  name: string;
  state: number;
  stateName: string;
  datastoreId: number;
  path: string;
  source: string;
  error?: string;
}

function image(node: XmlNode): OneImage {
  const state = int(node, "STATE");
  const error = str(child(node, "TEMPLATE"), "ERROR");
  return {
    id: int(node, "ID"),
    name: str(node, "NAME"),
    state,
    stateName: imageStateName(state),
    datastoreId: int(node, "DATASTORE_ID"),
    path: str(node, "PATH"),
    source: str(node, "SOURCE"),
    ...(error ? { error } : {}),
  };
}

export const parseImage = (xml: string): OneImage => image(parseRoot(xml, "IMAGE"));
export const parseImagePool = (xml: string): OneImage[] =>
  list(parseRoot(xml, "IMAGE_POOL"), "IMAGE").map(image);

/** A marketplace app (share/doc/xsd/marketplaceapp.xsd); STATE 1 is READY, TYPE 1 is IMAGE. */
export interface OneMarketApp {
  id: number;
  name: string;
  state: number;
  type: number;
  marketplaceId: number;
  marketplace: string;
  source: string;
  /** The image template the app brings, decoded (APPTEMPLATE64). */
  appTemplate: string;
  /** The VM template Sunstone would create with it, decoded (TEMPLATE/VMTEMPLATE64). */
  vmTemplate: string;
}

function b64(text: string): string {
  return text ? Buffer.from(text, "base64").toString("utf8") : "";
}

function marketApp(node: XmlNode): OneMarketApp {
  return {
    id: int(node, "ID"),
    name: str(node, "NAME"),
    state: int(node, "STATE"),
    type: int(node, "TYPE"),
    marketplaceId: int(node, "MARKETPLACE_ID"),
    marketplace: str(node, "MARKETPLACE"),
    source: str(node, "SOURCE"),
    appTemplate: b64(str(node, "APPTEMPLATE64")),
    vmTemplate: b64(str(child(node, "TEMPLATE"), "VMTEMPLATE64")),
  };
}

export const parseMarketApp = (xml: string): OneMarketApp => marketApp(parseRoot(xml, "MARKETPLACEAPP"));
export const parseMarketAppPool = (xml: string): OneMarketApp[] =>
  list(parseRoot(xml, "MARKETPLACEAPP_POOL"), "MARKETPLACEAPP").map(marketApp);

export interface OneTemplate {
  id: number;
  name: string;
  template: XmlNode;
}

function vmTemplate(node: XmlNode): OneTemplate {
  return { id: int(node, "ID"), name: str(node, "NAME"), template: child(node, "TEMPLATE") };
}

export const parseTemplate = (xml: string): OneTemplate => vmTemplate(parseRoot(xml, "VMTEMPLATE"));
export const parseTemplatePool = (xml: string): OneTemplate[] =>
  list(parseRoot(xml, "VMTEMPLATE_POOL"), "VMTEMPLATE").map(vmTemplate);

/** A parsed <TEMPLATE> node's child as text ("" when missing). */
export function templateText(node: XmlNode, key: string): string {
  return str(node, key);
}

export function templateChild(node: XmlNode, key: string): XmlNode {
  return child(node, key);
}
