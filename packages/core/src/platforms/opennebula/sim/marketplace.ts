import type { OneContextVersion } from "../context-versions.js";

/**
 * The "Linux Containers" marketplace as its monitor fills it (src/market_mad/remotes/linuxcontainers/monitor):
 * one IMAGE app per distribution/version with SOURCE
 * `lxd://https://images.linuxcontainers.org/images/<distro>/<version>/amd64/default/<build>/rootfs.tar.xz?size=…&filesystem=ext4&format=raw`,
 * APPTEMPLATE64 (the image template) and VMTEMPLATE64 (the VM template Sunstone creates on export). The VM template
 * pins containers to container hosts with SCHED_REQUIREMENTS on HYPERVISOR ("lx*" up to 6.8, "lxc" from 6.10).
 * The app list is fixed here (no Internet): the build directories follow linuxcontainers.org's naming (YYYYMMDD_HH:MM);
 * the dates themselves are made up.
 */
export interface SimMarketApp {
  id: number;
  name: string;
  source: string;
  sizeMb: number;
  appTemplate: string;
  vmTemplate: string;
  /** 1 = READY (include/MarketPlaceApp.h: INIT=0, READY=1, LOCKED=2, ERROR=3, DISABLED=4). */
  state: number;
}

const BUILDS: Array<{ distro: string; version: string; build: string }> = [
  { distro: "ubuntu", version: "jammy", build: "20261201_07:42" },
  { distro: "ubuntu", version: "noble", build: "20261201_07:42" },
  { distro: "debian", version: "bookworm", build: "20261201_05:24" },
  { distro: "alpine", version: "3.20", build: "20261201_13:00" },
];

export const LINUX_CONTAINERS_MARKET = { id: 2, name: "Linux Containers" };

export function linuxContainersApps(version: OneContextVersion): SimMarketApp[] {
  const lxc = version !== "6.8";
  const suffix = lxc ? "LXC" : "LXD";
  const hypervisor = lxc ? "lxc" : "lxd";
  const requirement = lxc ? 'HYPERVISOR=\\"lxc\\"' : 'HYPERVISOR=\\"lx*\\"';
  return BUILDS.map((b, i) => {
    const sizeMb = 1024;
    const source = `lxd://https://images.linuxcontainers.org/images/${b.distro}/${b.version}/amd64/default/${b.build}/rootfs.tar.xz?size=${sizeMb}&filesystem=ext4&format=raw`;
    const vmTemplate = [
      `HYPERVISOR = "${hypervisor}"`,
      'CPU = "1"',
      'MEMORY = "768"',
      ...(lxc ? [] : ['LXD_SECURITY_PRIVILEGED = "true"']),
      `SCHED_REQUIREMENTS = "${requirement}"`,
      'CONTEXT = [ NETWORK = "YES", SSH_PUBLIC_KEY = "$USER[SSH_PUBLIC_KEY]", SET_HOSTNAME = "$NAME" ]',
    ].join("\n");
    return {
      id: i,
      name: `${b.distro}_${b.version} - ${suffix}`,
      source,
      sizeMb,
      appTemplate: 'DEV_PREFIX = "sd"\nFORMAT = "raw"\nTYPE = "OS"',
      vmTemplate,
      state: 1,
    };
  });
}
