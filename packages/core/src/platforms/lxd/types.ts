/** The parts of LXD's REST objects labgate reads (see shared/reference/lxd-rest-api.yaml). */

export type LxdConfig = Record<string, string>;
export type LxdDevice = Record<string, string>;
export type LxdDevices = Record<string, LxdDevice>;

export interface LxdServer {
  api_extensions: string[];
  api_version: string;
  auth: string;
  environment?: {
    server_version?: string;
    architectures?: string[];
    driver?: string;
    kernel_version?: string;
    storage?: string;
    /** Firewall driver: "nftables", or "xtables" (iptables) when nft is missing. */
    firewall?: string;
  };
}

export interface LxdNetwork {
  name: string;
  type: string;
  managed: boolean;
  description: string;
  config: LxdConfig;
  status?: string;
  used_by?: string[];
}

export interface LxdNetworkPost {
  name: string;
  type?: string;
  description?: string;
  config: LxdConfig;
}

export interface LxdStoragePool {
  name: string;
  driver: string;
  description?: string;
  status?: string;
  config: LxdConfig;
  used_by?: string[];
}

export interface LxdProfile {
  name: string;
  description: string;
  config: LxdConfig;
  devices: LxdDevices;
  used_by?: string[];
}

export interface LxdImageAlias {
  name: string;
  target: string;
  description?: string;
  type?: string;
}

export interface LxdImage {
  fingerprint: string;
  filename?: string;
  architecture: string;
  type?: string;
  size: number;
  public: boolean;
  aliases: { name: string; description?: string }[];
  properties: Record<string, string>;
  created_at?: string;
  uploaded_at?: string;
}

export type LxdInstanceStatus = "Running" | "Stopped" | "Frozen" | "Error" | string;

export interface LxdInstance {
  name: string;
  type: string;
  status: LxdInstanceStatus;
  status_code: number;
  architecture: string;
  description: string;
  ephemeral: boolean;
  profiles: string[];
  config: LxdConfig;
  devices: LxdDevices;
  expanded_config?: LxdConfig;
  expanded_devices?: LxdDevices;
  created_at?: string;
}

export interface LxdInstanceSource {
  type: "image" | "none" | "copy" | "migration";
  alias?: string;
  fingerprint?: string;
  /** "pull" from an image server (server + protocol), for images not in the local store. */
  mode?: "pull" | "local";
  server?: string;
  protocol?: "simplestreams" | "lxd" | string;
}

export interface LxdInstancesPost {
  name: string;
  type?: "container" | "virtual-machine";
  description?: string;
  profiles?: string[];
  config?: LxdConfig;
  devices?: LxdDevices;
  ephemeral?: boolean;
  source: LxdInstanceSource;
}

export interface LxdNetworkAddress {
  family: "inet" | "inet6" | string;
  address: string;
  netmask: string;
  scope: string;
}

export interface LxdInstanceState {
  status: LxdInstanceStatus;
  status_code: number;
  pid: number;
  processes: number;
  network?: Record<
    string,
    { addresses: LxdNetworkAddress[]; state: string; hwaddr?: string; host_name?: string }
  >;
}

export interface LxdOperation {
  id: string;
  class: "task" | "websocket" | "token" | string;
  description: string;
  status: "Pending" | "Running" | "Success" | "Failure" | "Cancelled" | string;
  status_code: number;
  err: string;
  may_cancel: boolean;
  resources?: Record<string, string[]>;
  metadata?: Record<string, unknown> | null;
  created_at?: string;
  updated_at?: string;
}

export interface LxdExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
