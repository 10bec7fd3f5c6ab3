import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Points `labgate deploy` at the Proxmox simulator: writes `pools` to `<dir>/ip_pools.json` and sets
 * the API token and LABGATE_IP_POOLS in process.env (the caller restores process.env afterwards).
 */
export async function useProxmoxDeployEnv(
  dir: string,
  pools: unknown,
  token: { id: string; secret: string },
): Promise<void> {
  await writeFile(join(dir, "ip_pools.json"), JSON.stringify(pools));
  process.env.PROXMOX_TOKEN_ID = token.id;
  process.env.PROXMOX_TOKEN_SECRET = token.secret;
  process.env.LABGATE_IP_POOLS = join(dir, "ip_pools.json");
}

/** A deploy spec for an Ubuntu VM cloned from the simulator's template 9000 on node pve1. */
export function proxmoxVmSpec(
  url: string,
  vm: { name: string } & Record<string, unknown>,
  network: Record<string, unknown>,
): Record<string, unknown> {
  const { name, ...size } = vm;
  return {
    name,
    platform: "proxmox",
    os: { family: "linux", distro: "ubuntu" },
    ...size,
    template_id: 9000,
    network,
    platform_options: { proxmox: { node: "pve1", url } },
  };
}
