import type { ResolvedSpec } from "../types.js";
import { specStaticNetwork } from "./static-network.js";

/** A 1-core 512 MiB container from `image` on the bridge labbr0 at the spec's 192.168.3.31. */
export function lxdBridgedSpec(name: string, image: string): ResolvedSpec {
  return {
    name,
    platform: "lxd",
    os: { family: "linux" },
    cores: 1,
    memory_mib: 512,
    image: { ref: image },
    network: { cidr: "192.168.3.0/24", attach: "labbr0" },
    resolvedNetwork: { ...specStaticNetwork("192.168.3.31"), attach: "labbr0" },
  };
}
