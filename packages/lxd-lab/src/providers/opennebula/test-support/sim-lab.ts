import { join } from "node:path";
import { IpPool } from "@labgate/core";
import type { LabLbSpec, LabSpec } from "../../../spec/lab-spec.js";

/**
 * The lab the OpenNebula tests build on the simulated oned: two apps on 8000/8001 and an LB on
 * 192.168.3.0/24 (data only: simulated VMs have no network), polling fast. `providerOptions` names the
 * endpoint and session and overrides the defaults; `lb` adds to the LB (e.g. expose).
 */
export function simLabSpec(providerOptions: Record<string, unknown>, lb: Partial<LabLbSpec> = {}): LabSpec {
  return {
    name: "lab",
    provider: "opennebula",
    network: { cidr: "192.168.3.0/24", dhcp: false, gateway: "192.168.3.1" },
    apps: { count: 2, ports: [8000, 8001], namePrefix: "app" },
    lb: { port: 8080, statsPort: 8404, name: "lb", ...lb },
    image: "ubuntu:22.04",
    slos: [],
    providerOptions: {
      pollIntervalMs: 5,
      waitTimeoutMs: 5_000,
      sshPublicKey: "ssh-ed25519 AAAAC3Nza test@lab",
      ...providerOptions,
    },
  };
}

/** The static addresses simLabSpec's VMs get: 192.168.3.100-120, the pool's state under `dir`. */
export function simLabPool(dir: string): IpPool {
  return new IpPool({
    config: {
      networks: [
        {
          cidr: "192.168.3.0/24",
          gateway: "192.168.3.1",
          dns: ["192.168.3.1"],
          dhcp: false,
          pools: [{ start: "192.168.3.100", end: "192.168.3.120" }],
        },
      ],
    },
    statePath: join(dir, "ip-pool.json"),
  });
}
