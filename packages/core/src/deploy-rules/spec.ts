/** Platforms a deployment spec can target. */
export const PLATFORMS = ["proxmox", "esxi", "aws", "azure", "opennebula", "lxd", "local"] as const;
export type PlatformName = (typeof PLATFORMS)[number];

/** Platforms without DHCP on their lab networks: every VM needs a static address. */
export const ON_PREM_PLATFORMS: readonly PlatformName[] = ["proxmox", "esxi", "opennebula", "lxd"];
export const CLOUD_PLATFORMS: readonly PlatformName[] = ["aws", "azure"];
/** The subnet a `local` node's address comes from when the spec names none: loopback, never anything else. */
export const LOCAL_DEFAULT_CIDR = "127.0.0.0/8";

export type OsFamily = "linux" | "windows";
export type ImageFormat =
  | "qcow2"
  | "ova"
  | "ovf"
  | "vmdk"
  | "raw"
  | "img"
  | "vhd"
  | "ami"
  | "marketplace"
  | "lxd";

export interface DeployImage {
  /** Local path or URL of a cloud image (qcow2, OVA, VMDK ...). */
  source?: string;
  format?: ImageFormat;
  /** Cloud image reference: an AMI id, an Azure `publisher:offer:sku:version` URN, an LXD alias. */
  ref?: string;
}

export interface DeployNetwork {
  /** Subnet the VM joins, e.g. 192.168.3.0/24; used to allocate an address from the pool. */
  cidr?: string;
  ip?: string;
  prefix?: number;
  netmask?: string;
  gateway?: string;
  dns?: string[];
  /**
   * Whether the network hands out addresses. Unset means the platform's default:
   * false on proxmox/esxi/opennebula/lxd-bridged/local, true on aws/azure.
   */
  dhcp?: boolean;
  /** Cloud platforms: ask for a fixed private address instead of DHCP. */
  static?: boolean;
  /** Bridge / port group / subnet id / vnet the NIC is attached to. */
  attach?: string;
}

/** A VM (or system container) deployment, read from JSON. Sizes use explicit units in their names. */
export interface DeploySpec {
  name: string;
  platform?: PlatformName;
  os: { family: OsFamily; distro?: string };
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
