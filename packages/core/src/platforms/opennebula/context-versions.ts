/**
 * What the context package inside a guest runs, by version. OpenNebula ≥ 6.10 images carry one-apps' context
 * (OpenNebula/one-apps context-linux); USER_DATA cloud-config is read only from one-context 6.10.0-3 on
 * (one-apps context-linux: the net-9x-cloudinit scripts and one_cloudinit.rb, added in 6.10.0-3).
 * Older LXD images get addon-context-linux (src/etc/one-context.d/loc-10-network, loc-90-start-script …), which
 * has no cloud-init support at all. START_SCRIPT / START_SCRIPT_BASE64 run on every version
 * (addon-context-linux src/etc/one-context.d/loc-90-start-script, kept in one-apps context-linux).
 */
export type OneContextVersion = "6.8" | "6.10.0" | "6.10.5" | "7.0";

export const ONE_CONTEXT_VERSIONS: readonly OneContextVersion[] = ["6.8", "6.10.0", "6.10.5", "7.0"];

/** The oned version string `one.system.version` answers for each simulated release. */
export const ONED_VERSION_STRING: Record<OneContextVersion, string> = {
  "6.8": "6.8.3",
  "6.10.0": "6.10.0",
  "6.10.5": "6.10.5",
  "7.0": "7.0.0",
};

export interface ContextCapabilities {
  startScript: boolean;
  userData: boolean;
  /** The package family: what `onevm show` users look for in the guest's /var/log/context.log. */
  package: "addon-context-linux" | "one-apps";
}

export function contextCapabilities(version: OneContextVersion): ContextCapabilities {
  switch (version) {
    case "6.8":
      return { startScript: true, userData: false, package: "addon-context-linux" };
    case "6.10.0":
      // one-apps 6.10.0-1/-2: the cloud-init module arrived with 6.10.0-3.
      return { startScript: true, userData: false, package: "one-apps" };
    default:
      return { startScript: true, userData: true, package: "one-apps" };
  }
}

/** Whether an oned of this version still has the `lxd` VM driver (removed in 6.10; `lxc` exists from 6.0). */
export function hasLxdDriver(onedVersion: string): boolean {
  const [major = 0, minor = 0] = onedVersion.split(".").map((n) => Number.parseInt(n, 10));
  return major < 6 || (major === 6 && minor < 10);
}

/** `lxc` arrived in 6.0 (share/etc/oned.conf VM_MAD = [ NAME = "lxc" … ] from release-6.0). */
export function hasLxcDriver(onedVersion: string): boolean {
  const [major = 0] = onedVersion.split(".").map((n) => Number.parseInt(n, 10));
  return major >= 6;
}
