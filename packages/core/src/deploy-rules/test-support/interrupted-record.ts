import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { DeployRecord } from "../deploy-state.js";
import type { PlatformName } from "../spec.js";

/**
 * Writes the record a `deploy apply` leaves when it is killed before the platform named its node: still
 * "creating", with no id (the local platform learns its node's id, the pid, only from the call itself),
 * the address owner it held and no address. Plain JSON, as a hand-made file: the tests read its bytes back.
 */
export async function writeUnnamedIntent(
  path: string,
  platform: PlatformName,
  name: string,
  createdAt = new Date().toISOString(),
): Promise<void> {
  const record: DeployRecord = {
    version: 1,
    status: "creating",
    ref: { platform, id: "", name },
    network: { mode: "dhcp" },
    ipOwner: `deploy/${platform}/${name}`,
    createdAt,
  };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(record));
}
