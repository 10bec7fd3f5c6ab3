import type { DeploySpec, PlatformName } from "../deploy-rules/spec.js";
import { PlatformSdkMissingError } from "../errors.js";
import { EsxiAdapter } from "./esxi.js";
import { LocalAdapter } from "./local.js";
import { LxdAdapter } from "./lxd.js";
import { OpenNebulaAdapter } from "./opennebula.js";
import { cloudInstallPackages } from "./optional-sdk.js";
import { ProxmoxAdapter } from "./proxmox.js";
import type { PlatformAdapter } from "./types.js";

export interface CreateAdapterOptions {
  spec?: DeploySpec;
  env?: NodeJS.ProcessEnv;
}

/** Platforms whose adapter lives outside core (in @labgate/clouds) and is registered at run time. */
export type RegisteredPlatform = "aws" | "azure";
export type PlatformAdapterFactory = (options: CreateAdapterOptions) => PlatformAdapter;

/**
 * One registry per process, kept on globalThis under a Symbol.for key: when npm installs two copies of
 * core (clouds pinned to another version), the copy @labgate/clouds registers into is the one
 * createAdapter reads.
 */
const REGISTRY_KEY = Symbol.for("labgate.platformAdapters");
function registry(): Map<RegisteredPlatform, PlatformAdapterFactory> {
  const global = globalThis as { [REGISTRY_KEY]?: Map<RegisteredPlatform, PlatformAdapterFactory> };
  global[REGISTRY_KEY] ??= new Map();
  return global[REGISTRY_KEY];
}

/**
 * Makes createAdapter(platform) build this platform's adapter. @labgate/clouds calls it for aws and
 * azure (registerCloudAdapters), so core itself never depends on a cloud SDK.
 */
export function registerPlatformAdapter(platform: RegisteredPlatform, factory: PlatformAdapterFactory): void {
  registry().set(platform, factory);
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
    case "azure":
      return registeredAdapter(platform, common);
    case "opennebula":
      return new OpenNebulaAdapter(options.spec ? { spec: options.spec } : {});
    case "lxd":
      return new LxdAdapter(options.spec ? { spec: options.spec } : {});
    case "local":
      return new LocalAdapter(options.spec ? { spec: options.spec } : {});
  }
}

/** Not registered means @labgate/clouds was not loaded: PLATFORM_SDK_MISSING names what to install. */
function registeredAdapter(platform: RegisteredPlatform, options: CreateAdapterOptions): PlatformAdapter {
  const factory = registry().get(platform);
  if (factory) return factory(options);
  throw new PlatformSdkMissingError(platform, cloudInstallPackages(platform), undefined);
}
