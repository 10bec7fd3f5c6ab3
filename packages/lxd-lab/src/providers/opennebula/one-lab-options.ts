import {
  checkLxdImageUrl,
  InvalidInputError,
  labOwner,
  type OpenNebulaConnectionConfig,
  REDACTED,
} from "@labgate/core";
import type { LabSpec } from "../../spec/lab-spec.js";
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

function opt<T>(
  o: Record<string, unknown>,
  key: string,
  type: "string" | "number" | "boolean",
): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== type) {
    throw new InvalidInputError("ONE_OPTION_INVALID", `providerOptions.${key} must be a ${type}.`, {
      hint: "Fix the OpenNebula settings in lab.yaml (providerOptions).",
      details: { key },
    });
  }
  return v as T;
}

const KNOWN_OPTIONS = [
  "endpoint",
  "host",
  "session",
  "authFile",
  "hostName",
  "addHost",
  "hostDriver",
  "bridge",
  "vnMad",
  "datastoreId",
  "image",
  "imagePath",
  "marketApp",
  "appTemplate",
  "lbTemplate",
  "sshPublicKey",
  "ssh",
  "ipPoolConfig",
  "ipPoolState",
  "pollIntervalMs",
  "waitTimeoutMs",
  "hostErrorGraceMs",
  "hostAccess",
  "hostPrep",
  "virtualbox",
];

export function oneLabOptions(spec: LabSpec): OneLabOptions {
  const o = spec.providerOptions ?? {};
  // A misspelt key (say "sesion") would otherwise be ignored without a word and its default used.
  const unknown = Object.keys(o).filter((key) => !KNOWN_OPTIONS.includes(key));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      `providerOptions: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}.`,
      {
        hint: `Fix the spelling in lab.yaml; the OpenNebula provider knows ${KNOWN_OPTIONS.join(", ")}.`,
        details: { unknown },
      },
    );
  }
  const given = opt<string>(o, "session", "string");
  const sessionRedacted = given === REDACTED;
  const session = sessionRedacted ? undefined : given;
  const sshRaw = o.ssh;
  let ssh: OneLabOptions["ssh"];
  if (sshRaw !== undefined) {
    if (
      !sshRaw ||
      typeof sshRaw !== "object" ||
      typeof (sshRaw as Record<string, unknown>).host !== "string"
    ) {
      throw new InvalidInputError(
        "ONE_OPTION_INVALID",
        "providerOptions.ssh must be { host, user?, port? }.",
        {
          hint: "e.g. ssh: { host: 192.168.3.20, user: root }",
        },
      );
    }
    const s = sshRaw as Record<string, unknown>;
    ssh = {
      host: s.host as string,
      user: typeof s.user === "string" ? s.user : "root",
      port: typeof s.port === "number" ? s.port : 22,
      ...(typeof s.privateKeyPath === "string" ? { privateKeyPath: s.privateKeyPath } : {}),
      ...(Array.isArray(s.hostKeyFingerprints)
        ? { hostKeyFingerprints: s.hostKeyFingerprints.map(String) }
        : {}),
      ...(typeof s.knownHostsPath === "string" ? { knownHostsPath: s.knownHostsPath } : {}),
    };
  }
  const driver = opt<string>(o, "hostDriver", "string") ?? "auto";
  if (driver !== "lxd" && driver !== "lxc" && driver !== "auto") {
    throw new InvalidInputError(
      "ONE_OPTION_INVALID",
      `providerOptions.hostDriver "${driver}" is not lxd, lxc or auto.`,
      {
        hint: "OpenNebula up to 6.8 runs containers with the lxd driver, 6.10 and later with lxc.",
      },
    );
  }
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
  const image = opt<string>(o, "image", "string");
  const hostName = opt<string>(o, "hostName", "string");
  const sshPublicKey = opt<string>(o, "sshPublicKey", "string");
  const ipPoolConfig = opt<string>(o, "ipPoolConfig", "string");
  const ipPoolState = opt<string>(o, "ipPoolState", "string");
  const hostAccess = parseHostAccess(opt<string>(o, "hostAccess", "string"), ssh !== undefined);
  const virtualbox = virtualBoxForward(o.virtualbox, spec.lb.expose);
  return {
    lab: spec.name,
    connection: {
      ...(opt<string>(o, "endpoint", "string") ? { endpoint: o.endpoint as string } : {}),
      ...(opt<string>(o, "host", "string") ? { host: o.host as string } : {}),
      ...(session ? { session } : {}),
      ...(opt<string>(o, "authFile", "string") ? { authFile: o.authFile as string } : {}),
    },
    ...(hostName ? { hostName } : {}),
    addHost: opt<boolean>(o, "addHost", "boolean") ?? hostName !== undefined,
    hostDriver: driver,
    vnetName: spec.network.name ?? "vnet-lxd",
    cidr: spec.network.cidr,
    bridge: opt<string>(o, "bridge", "string") ?? "lxdbr0",
    vnMad: opt<string>(o, "vnMad", "string") ?? "bridge",
    datastoreId: opt<number>(o, "datastoreId", "number") ?? 1,
    imageName: image ?? (spec.image === "ubuntu:22.04" ? "labgate-ubuntu-22.04" : spec.image),
    imageSource: imageSourceFrom(
      opt<string>(o, "imagePath", "string"),
      opt<string>(o, "marketApp", "string"),
    ),
    appTemplate: opt<string>(o, "appTemplate", "string") ?? "tpl-app",
    lbTemplate: opt<string>(o, "lbTemplate", "string") ?? "tpl-lb",
    ...(sshPublicKey ? { sshPublicKey } : {}),
    apps,
    lb: named("lb", spec.lb.name, spec.lb.port),
    statsPort: spec.lb.statsPort,
    ...(ipPoolConfig ? { ipPoolConfig } : {}),
    ...(ipPoolState ? { ipPoolState } : {}),
    ...(spec.lb.expose ? { expose: spec.lb.expose } : {}),
    ...(ssh ? { ssh } : {}),
    hostAccess,
    hostPrep: opt<boolean>(o, "hostPrep", "boolean") ?? true,
    ...(virtualbox ? { virtualbox } : {}),
    pollIntervalMs: opt<number>(o, "pollIntervalMs", "number") ?? 2_000,
    waitTimeoutMs: opt<number>(o, "waitTimeoutMs", "number") ?? 600_000,
    hostErrorGraceMs: opt<number>(o, "hostErrorGraceMs", "number") ?? 60_000,
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
