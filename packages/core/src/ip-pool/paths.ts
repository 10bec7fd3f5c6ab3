import { basename, dirname, join, resolve } from "node:path";

export const DEFAULT_IP_POOLS_CONFIG = "config/ip_pools.json";

/** --ip-pools, else $LABGATE_IP_POOLS, else config/ip_pools.json under the working directory. */
export function resolveIpPoolConfigPath(configPath?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(configPath ?? (env.LABGATE_IP_POOLS || DEFAULT_IP_POOLS_CONFIG));
}

/** The ledger lives beside its config: ip_pools.json → ip_pools.state.json. */
export function defaultIpPoolStatePath(configPath: string): string {
  const name = basename(configPath).replace(/\.json$/i, "");
  return join(dirname(configPath), `${name}.state.json`);
}
