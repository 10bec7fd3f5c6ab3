import { createHash } from "node:crypto";
import { formatIpv4, parseCidr } from "@labgate/core";
import type { LabSpec } from "../../spec/lab-spec.js";
import { type LocalApp, localApps, localOptions } from "./local-lab.js";

/**
 * One app's own network namespace and the veth pair that joins it to the host: the host end holds
 * the first address of the app's /30, the namespace end the second, which the app listens on.
 */
export interface AppNetns {
  app: string;
  netns: string;
  vethHost: string;
  vethApp: string;
  hostAddress: string;
  appAddress: string;
  /** The /30 of the link, e.g. "10.251.0.4/30". */
  link: string;
}

/**
 * `ip netns` refuses names longer than NAME_MAX (255) or with a '/'; the lab and app names are
 * already [a-z0-9-]. 63 keeps `ls /run/netns` readable; longer names keep their start and a hash.
 */
const MAX_NETNS_NAME = 63;

export function netnsName(labName: string, appName: string): string {
  const name = `lg-${labName}-${appName}`;
  if (name.length <= MAX_NETNS_NAME) return name;
  return `${name.slice(0, MAX_NETNS_NAME - 9)}-${shortHash(name, 8)}`;
}

/**
 * Interface names are at most 15 bytes (IFNAMSIZ 16 with its NUL): "lg" + 6 hex of the lab name + the
 * app's number + h (host end) / n (namespace end), e.g. "lg3fa9c21h" — unique per lab and app.
 */
export function vethNames(labName: string, index: number): { host: string; app: string } {
  const stem = `lg${shortHash(labName, 6)}${index + 1}`;
  return { host: `${stem}h`, app: `${stem}n` };
}

function shortHash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** App i gets the i-th /30 of providerOptions.netnsRange (its range was checked to have room). */
export function appNetns(spec: LabSpec, app: LocalApp, index: number): AppNetns {
  const range = parseCidr(localOptions(spec).netnsRange);
  const base = range.network + 4 * index;
  const veth = vethNames(spec.name, index);
  return {
    app: app.name,
    netns: netnsName(spec.name, app.name),
    vethHost: veth.host,
    vethApp: veth.app,
    hostAddress: formatIpv4(base + 1),
    appAddress: formatIpv4(base + 2),
    link: `${formatIpv4(base)}/30`,
  };
}

/** Every app's namespace when providerOptions.netns is on, else none. */
export function labNetns(spec: LabSpec): AppNetns[] {
  if (!localOptions(spec).netns) return [];
  return localApps(spec).map((app, i) => appNetns(spec, app, i));
}

export function netnsOfApp(spec: LabSpec, appName: string): AppNetns | undefined {
  return labNetns(spec).find((n) => n.app === appName);
}

/** Where an app listens and HAProxy reaches it: its veth address in netns mode, else the lab's address. */
export function appAddress(spec: LabSpec, app: LocalApp, labAddress: string): string {
  return netnsOfApp(spec, app.name)?.appAddress ?? labAddress;
}

/** The commands that build one app's link and take it down, as argument arrays (what the plan shows is what runs). */
export function netnsCommands(n: AppNetns) {
  return {
    add: ["ip", "netns", "add", n.netns],
    veth: ["ip", "link", "add", n.vethHost, "type", "veth", "peer", "name", n.vethApp, "netns", n.netns],
    hostAddr: ["ip", "addr", "add", `${n.hostAddress}/30`, "dev", n.vethHost],
    hostUp: ["ip", "link", "set", n.vethHost, "up"],
    appAddr: ["ip", "-n", n.netns, "addr", "add", `${n.appAddress}/30`, "dev", n.vethApp],
    appUp: ["ip", "-n", n.netns, "link", "set", n.vethApp, "up"],
    loUp: ["ip", "-n", n.netns, "link", "set", "lo", "up"],
    // Deleting the host end removes its peer; the namespace goes last (its apps are stopped by then).
    delVeth: ["ip", "link", "del", n.vethHost],
    delNetns: ["ip", "netns", "del", n.netns],
  };
}

export function netnsCreateCommands(n: AppNetns): string[][] {
  const c = netnsCommands(n);
  return [c.add, c.veth, c.hostAddr, c.hostUp, c.appAddr, c.appUp, c.loUp];
}

export function netnsDeleteCommands(n: AppNetns): string[][] {
  const c = netnsCommands(n);
  return [c.delVeth, c.delNetns];
}

/** How the app is started inside its namespace: `ip netns exec` execs the app, so the pid is the app's. */
export function inNetns(n: AppNetns | undefined, argv: string[]): string[] {
  return n ? ["ip", "netns", "exec", n.netns, ...argv] : argv;
}
