import type { DeploySpecDocument, IMAGE_FORMATS, OS_FAMILIES } from "./deploy-spec-schema.js";
import { PLATFORM_NAMES } from "./deploy-spec-schema.js";

/** Platforms a deployment spec can target. */
export const PLATFORMS = PLATFORM_NAMES;
export type PlatformName = (typeof PLATFORMS)[number];

/** Platforms without DHCP on their lab networks: every VM needs a static address. */
export const ON_PREM_PLATFORMS: readonly PlatformName[] = ["proxmox", "esxi", "opennebula", "lxd"];
export const CLOUD_PLATFORMS: readonly PlatformName[] = ["aws", "azure"];
/** The subnet a `local` node's address comes from when the spec names none: loopback, never anything else. */
export const LOCAL_DEFAULT_CIDR = "127.0.0.0/8";

export type OsFamily = (typeof OS_FAMILIES)[number];
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/**
 * The image to boot (source path/URL, format, cloud ref), the VM's network (subnet, address,
 * gateway, DNS, dhcp/static, attach): described with their meaning in deploy-spec-schema.ts.
 */
export type DeployImage = NonNullable<DeploySpecDocument["image"]>;
export type DeployNetwork = DeploySpecDocument["network"];

/**
 * A VM (or system container) deployment as the rules and adapters use it: the schema's document
 * with memory in MiB and the template id as a string. Sizes use explicit units in their names.
 */
export interface DeploySpec {
  name: string;
  platform?: PlatformName;
  os: DeploySpecDocument["os"];
  cores: number;
  memory_mib: number;
  disk_gb?: number;
  /** Clone from this template (Proxmox VMID, vSphere VM/template id, OpenNebula template id). */
  template_id?: string;
  image?: DeployImage;
  network: DeployNetwork;
  ssh_authorized_keys?: string[];
  /** Platform-specific settings (node, storage, region, resource group, url ...), never secrets. */
  platform_options?: Record<string, unknown>;
}
