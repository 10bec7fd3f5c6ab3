import {
  checkLxdImageUrl,
  InvalidInputError,
  labOwner,
  type OpenNebulaConnectionConfig,
  REDACTED,
} from "@labgate/core";
import type { LabSpec } from "../../spec/lab-spec.js";
import { type OptionFinding, opts, readOptions } from "../provider-options.js";
import { type VirtualBoxForward, virtualBoxForward } from "./virtualbox-step.js";

/** A VM of the lab: its OpenNebula name (`<lab>-app1`), short name (X-Served-By value) and port. */
export interface OneInstancePlan {
  vmName: string;
  name: string;
  role: "app" | "lb";
  port: number;
  /** IP pool owner of its address. */
  ipOwner: string;
}

/** Everything the OpenNebula provider derives from a lab spec (pure: no I/O). */
export interface OneLabOptions {
  lab: string;
  connection: OpenNebulaConnectionConfig;
  /** OpenNebula host to run on (name or IP as registered with `onehost create`); any MONITORED host when unset. */
  hostName?: string;
  /** Add `hostName` with `onehost create` when it is not registered yet. */
  addHost: boolean;
  /** "lxd" (OpenNebula ≤ 6.8) or "lxc" (6.10+); "auto" picks from the version. */
  hostDriver: "lxd" | "lxc" | "auto";
  vnetName: string;
  cidr: string;
  /** Bridge on the host the VNet attaches to, and its driver. */
  bridge: string;
  vnMad: string;
  datastoreId: number;
  /** Image name in OpenNebula; an existing image is used as is. */
  imageName: string;
  /**
   * Where the image comes from when it must be created: a Linux Containers marketplace app exported the way
   * Sunstone does (default), or a complete lxd:// URL given as providerOptions.imagePath (validated like
   * lxd_downloader.sh validates it).
   */
  imageSource: { kind: "market"; app: string } | { kind: "path"; path: string };
  appTemplate: string;
  lbTemplate: string;
  sshPublicKey?: string;
  apps: OneInstancePlan[];
  lb: OneInstancePlan;
  statsPort: number;
  /** IP pool config/ledger (core IpPool); default: the pool's own defaults. */
  ipPoolConfig?: string;
  ipPoolState?: string;
  /** Expose the LB on the host at address:port (LXD proxy device / DNAT). */
  expose?: { address: string; port: number };
  /** SSH access to the host, for host preparation and exposure. */
  ssh?: {
    host: string;
    user: string;
    port: number;
    privateKeyPath?: string;
    hostKeyFingerprints?: string[];
    knownHostsPath?: string;
  };
  /**
   * How labgate runs commands on the OpenNebula host (exposure, diagnostics, host preparation): "ssh"
   * (providerOptions.ssh), "local" (this machine is the host: front-end and host in one VM, or the simulator),
   * or "none" (no host commands: no exposure, no host preparation).
   */
  hostAccess: "ssh" | "local" | "none";
  /** Run host preparation (LXD, oneadmin in lxd, snap fix, OpenNebula restart) when there is host access. */
  hostPrep: boolean;
  /** The VirtualBox NAT forward to the exposed LB: a manual step, run by you on the VirtualBox host. */
  virtualbox?: VirtualBoxForward;
  pollIntervalMs: number;
  waitTimeoutMs: number;
  /** How long the host may stay in ERROR while oned re-monitors it (after host preparation) before it is reported. */
  hostErrorGraceMs: number;
  /**
   * The spec's session was the redacted placeholder: the spec came from state.json, where secrets are never
   * written. The session must then come from ONE_SESSION / ONE_AUTH / authFile.
   */
  sessionRedacted: boolean;
}

/** The Linux Containers marketplace app for ubuntu:22.04: "ubuntu_jammy - LXD" (6.8) / "… - LXC" (6.10+). */
export const UBUNTU_2204_MARKET_APP = "ubuntu_jammy";

/** A user-given PATH: a local/http file is the datastore's business; an lxd:// URL must pass the downloader. */
function imageSourceFrom(path: string | undefined, app: string | undefined): OneLabOptions["imageSource"] {
  if (path === undefined) return { kind: "market", app: app ?? UBUNTU_2204_MARKET_APP };
  if (path.startsWith("lxd://")) {
    const check = checkLxdImageUrl(path);
    if (!check.ok) {
      throw new InvalidInputError(
        "ONE_IMAGE_PATH_INVALID",
        `providerOptions.imagePath ${path} would be rejected by OpenNebula's LXD downloader: ${check.problem}.`,
        {
          hint: "Leave imagePath out to export the image from the Linux Containers marketplace (as Sunstone does), or give a complete URL: lxd://https://images.linuxcontainers.org/images/ubuntu/jammy/amd64/default/<build>/rootfs.tar.xz?size=2048&filesystem=ext4&format=raw (the build names are listed on that page).",
          details: { imagePath: path },
        },
      );
    }
  }
  return { kind: "path", path };
}

/** The OpenNebula lab's providerOptions, read by the one provider-options reader. */
const ONE_OPTIONS = {
  endpoint: opts.string({ example: "endpoint: http://192.168.3.10:2633/RPC2" }),
  host: opts.string({ example: "host: 192.168.3.10" }),
  session: opts.string({ secret: true, example: "session: oneadmin:PASSWORD, or $ONE_SESSION" }),
  authFile: opts.string({ example: "authFile: ~/.one/one_auth" }),
  hostName: opts.string({ example: "hostName: 192.168.3.20" }),
  addHost: opts.boolean(),
  hostDriver: opts.oneOfOr(["lxd", "lxc", "auto"], "auto"),
  bridge: opts.stringOr("lxdbr0"),
  vnMad: opts.stringOr("bridge"),
  datastoreId: opts.numberOr(1, { integer: true, min: 0 }),
  image: opts.string(),
  imagePath: opts.string(),
  marketApp: opts.string(),
  appTemplate: opts.stringOr("tpl-app"),
  lbTemplate: opts.stringOr("tpl-lb"),
  sshPublicKey: opts.string({ example: "sshPublicKey: ssh-ed25519 AAAA... you@laptop" }),
  ssh: opts.object({
    host: opts.required(opts.string(), "ssh: { host: 192.168.3.20, user: root }"),
    user: opts.stringOr("root"),
    port: opts.numberOr(22, { integer: true, min: 1, max: 65535 }),
    privateKeyPath: opts.string(),
    hostKeyFingerprints: opts.strings({ example: "hostKeyFingerprints: [SHA256:...]" }),
    knownHostsPath: opts.string(),
  }),
  ipPoolConfig: opts.string(),
  ipPoolState: opts.string(),
  pollIntervalMs: opts.numberOr(2_000, { above: 0 }),
  waitTimeoutMs: opts.numberOr(600_000, { above: 0 }),
  hostErrorGraceMs: opts.numberOr(60_000, { min: 0 }),
  // Checked by parseHostAccess against ssh, with messages naming both.
  hostAccess: opts.string(),
  hostPrep: opts.boolean({ default: true }),
  // Checked by virtualBoxForward against lb.expose.
  virtualbox: opts.passThrough(),
};

/** Every providerOptions problem at once; the hint lists what to do about each. */
function refuse(findings: OptionFinding[]): never {
  throw new InvalidInputError(
    "ONE_OPTION_INVALID",
    `${findings.map((f) => `${f.field}: ${f.problem}`).join("; ")}.`,
    {
      hint: `${findings.map((f) => f.fix).join(" ")} (the OpenNebula settings in lab.yaml, providerOptions)`,
      details: { fields: findings.map((f) => f.field) },
    },
  );
}

export function oneLabOptions(spec: LabSpec): OneLabOptions {
  const { value: o, findings } = readOptions(spec.providerOptions, ONE_OPTIONS);
  if (findings.length) refuse(findings);
  const sessionRedacted = o.session === REDACTED;
  const session = sessionRedacted ? undefined : o.session;
  const ssh: OneLabOptions["ssh"] = o.ssh && {
    host: o.ssh.host,
    user: o.ssh.user,
    port: o.ssh.port,
    ...(o.ssh.privateKeyPath ? { privateKeyPath: o.ssh.privateKeyPath } : {}),
    ...(o.ssh.hostKeyFingerprints ? { hostKeyFingerprints: o.ssh.hostKeyFingerprints } : {}),
    ...(o.ssh.knownHostsPath ? { knownHostsPath: o.ssh.knownHostsPath } : {}),
  };
  const named = (role: "app" | "lb", name: string, port: number): OneInstancePlan => ({
    vmName: `${spec.name}-${name}`,
    name,
    role,
    port,
    ipOwner: labOwner(spec.name, `${spec.name}-${name}`),
  });
  const apps = Array.from({ length: spec.apps.count }, (_, i) => {
    const port = spec.apps.ports[i];
    if (port === undefined) {
      throw new InvalidInputError("ONE_OPTION_INVALID", `apps.ports has no port for instance ${i + 1}.`, {
        hint: "Give one port per app instance.",
      });
    }
    return named("app", `${spec.apps.namePrefix}${i + 1}`, port);
  });
  const { hostName, sshPublicKey, ipPoolConfig, ipPoolState } = o;
  const hostAccess = parseHostAccess(o.hostAccess, ssh !== undefined);
  const virtualbox = virtualBoxForward(o.virtualbox, spec.lb.expose);
  return {
    lab: spec.name,
    connection: {
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      ...(o.host ? { host: o.host } : {}),
      ...(session ? { session } : {}),
      ...(o.authFile ? { authFile: o.authFile } : {}),
    },
    ...(hostName ? { hostName } : {}),
    addHost: o.addHost ?? hostName !== undefined,
    hostDriver: o.hostDriver,
    vnetName: spec.network.name ?? "vnet-lxd",
    cidr: spec.network.cidr,
    bridge: o.bridge,
    vnMad: o.vnMad,
    datastoreId: o.datastoreId,
    imageName: o.image ?? (spec.image === "ubuntu:22.04" ? "labgate-ubuntu-22.04" : spec.image),
    imageSource: imageSourceFrom(o.imagePath, o.marketApp),
    appTemplate: o.appTemplate,
    lbTemplate: o.lbTemplate,
    ...(sshPublicKey ? { sshPublicKey } : {}),
    apps,
    lb: named("lb", spec.lb.name, spec.lb.port),
    statsPort: spec.lb.statsPort,
    ...(ipPoolConfig ? { ipPoolConfig } : {}),
    ...(ipPoolState ? { ipPoolState } : {}),
    ...(spec.lb.expose ? { expose: spec.lb.expose } : {}),
    ...(ssh ? { ssh } : {}),
    hostAccess,
    hostPrep: o.hostPrep ?? true,
    ...(virtualbox ? { virtualbox } : {}),
    pollIntervalMs: o.pollIntervalMs,
    waitTimeoutMs: o.waitTimeoutMs,
    hostErrorGraceMs: o.hostErrorGraceMs,
    sessionRedacted,
  };
}

/** hostAccess: "ssh" needs providerOptions.ssh; "local" and ssh together would leave unclear where commands run. */
function parseHostAccess(value: string | undefined, hasSsh: boolean): OneLabOptions["hostAccess"] {
  if (value === undefined) return hasSsh ? "ssh" : "none";
  if (value !== "ssh" && value !== "local" && value !== "none") {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      `providerOptions.hostAccess "${value}" is not ssh, local or none.`,
      {
        hint: "local: labgate runs on the OpenNebula host itself; ssh: it logs in with providerOptions.ssh.",
      },
    );
  }
  if (value === "ssh" && !hasSsh) {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      "providerOptions.hostAccess is ssh but providerOptions.ssh is not set.",
      {
        hint: "Add ssh: { host, user } or use hostAccess: local when labgate runs on the host.",
      },
    );
  }
  if (value !== "ssh" && hasSsh) {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      `providerOptions.hostAccess is ${value} but providerOptions.ssh is set too: it is unclear where host commands should run.`,
      { hint: "Remove providerOptions.ssh, or set hostAccess: ssh (the default when ssh is set)." },
    );
  }
  return value;
}
