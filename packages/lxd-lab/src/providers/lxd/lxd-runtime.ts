import { join } from "node:path";
import { IpPool, type IpPoolConfig, LxdClient, labOwner, writeFileAtomic } from "@labgate/core";
import type { StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import type { LxdLabOptions } from "./lxd-lab-options.js";
import { type LxdAddressRecord, lxdAddressRecord } from "./lxd-records.js";

/** Creates the LXD client for a lab; tests swap it to point at another socket. */
export type LxdClientFactory = (options: LxdLabOptions) => LxdClient;

export const defaultClientFactory: LxdClientFactory = (o) =>
  new LxdClient({
    ...(o.socketPath ? { socketPath: o.socketPath } : {}),
    ...(o.project ? { project: o.project } : {}),
  });

export const IP_POOL_CONFIG_FILE = "ip-pool.json";
export const IP_POOL_STATE_FILE = "ip-pool.state.json";

/** The lab's own pool config: the spec's subnet, no DHCP, the lab's range. Pure. */
export function labIpPoolConfig(o: LxdLabOptions): IpPoolConfig {
  return {
    networks: [
      {
        name: o.bridge,
        cidr: o.subnet.cidr,
        gateway: o.gateway,
        dns: o.dns,
        dhcp: false,
        pools: [o.addressPool],
      },
    ],
  };
}

/**
 * The IP pool of this lab, kept in its state directory (config + ledger): addresses are static
 * because the lab network runs no DHCP, and they go away with the lab's state on `down`.
 */
export async function labIpPool(ctx: StepContext, o: LxdLabOptions): Promise<IpPool> {
  const configPath = join(ctx.stateDir, IP_POOL_CONFIG_FILE);
  await writeFileAtomic(configPath, `${JSON.stringify(labIpPoolConfig(o), null, 2)}\n`);
  return new IpPool({ configPath, statePath: join(ctx.stateDir, IP_POOL_STATE_FILE) });
}

/** The owner string of an instance's address in the pool ledger (core's one lab-owner form). */
export function addressOwner(o: LxdLabOptions, instance: string): string {
  return labOwner(o.lab, instance);
}

/** The address recorded for an instance by the allocate-addresses step. */
export function recordedAddress(ctx: StepContext, instance: string, stepId: string): LxdAddressRecord {
  const record = ctx.resources("address").find((r) => r.id === instance);
  if (!record) {
    throw new StepFailedError(stepId, `No address is recorded for ${instance}.`, {
      hint: "Run `labgate lab up --step allocate-addresses` first (or a plain `labgate lab up`).",
    });
  }
  return lxdAddressRecord(record);
}
