import { rm, writeFile } from "node:fs/promises";
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

/**
 * A deploy test's setup on the simulator at `url`: `<dir>/vm.json` for `vm` (proxmoxVmSpec) and the
 * environment of useProxmoxDeployEnv. Returns the spec's path.
 */
export async function useProxmoxDeploySpec(o: {
  dir: string;
  url: string;
  vm: { name: string } & Record<string, unknown>;
  network: Record<string, unknown>;
  pools: unknown;
  token: { id: string; secret: string };
}): Promise<string> {
  const specPath = join(o.dir, "vm.json");
  await writeFile(specPath, JSON.stringify(proxmoxVmSpec(o.url, o.vm, o.network)));
  await useProxmoxDeployEnv(o.dir, o.pools, o.token);
  return specPath;
}

/** The teardown that goes with useProxmoxDeploySpec: process.env as it was, the simulator stopped, `dir` removed. */
export async function endProxmoxDeploy(
  saved: NodeJS.ProcessEnv,
  sim: { close(): Promise<void> },
  dir: string,
): Promise<void> {
  process.env = { ...saved };
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}
