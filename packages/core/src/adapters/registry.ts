import type { DeploySpec, PlatformName } from "../deploy-rules/spec.js";
import { AwsAdapter } from "./aws.js";
import { AzureAdapter } from "./azure.js";
import { EsxiAdapter } from "./esxi.js";
import { LocalAdapter } from "./local.js";
import { LxdAdapter } from "./lxd.js";
import { OpenNebulaAdapter } from "./opennebula.js";
import { ProxmoxAdapter } from "./proxmox.js";
import type { PlatformAdapter } from "./types.js";

export interface CreateAdapterOptions {
  spec?: DeploySpec;
  env?: NodeJS.ProcessEnv;
}

/** The adapter for a platform, configured from the spec's platform_options and the environment (credentials). */
export function createAdapter(platform: PlatformName, options: CreateAdapterOptions = {}): PlatformAdapter {
  const common = {
    ...(options.spec ? { spec: options.spec } : {}),
    ...(options.env ? { env: options.env } : {}),
  };
  switch (platform) {
    case "proxmox":
      return new ProxmoxAdapter(common);
    case "esxi":
      return new EsxiAdapter(common);
    case "aws":
      return new AwsAdapter(common);
    case "azure":
      return new AzureAdapter(common);
    case "opennebula":
      return new OpenNebulaAdapter(options.spec ? { spec: options.spec } : {});
    case "lxd":
      return new LxdAdapter(options.spec ? { spec: options.spec } : {});
    case "local":
      return new LocalAdapter(options.spec ? { spec: options.spec } : {});
  }
}
