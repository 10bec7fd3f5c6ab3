import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { NodeRef, ResolvedNetwork } from "../adapters/types.js";
import { StateError } from "../errors.js";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { withFileLock } from "../fs/file-lock.js";
import { readJsonFile } from "../fs/read-json-file.js";
import type { PlatformName } from "./spec.js";

/** What `deploy apply` recorded, so `deploy destroy` finds the node (and the address) again. */
export interface DeployRecord {
  version: 1;
  ref: NodeRef;
  network: ResolvedNetwork;
  /** The IP pool owner the address is held under, when one was allocated or reserved. */
  ipOwner?: string;
  createdAt: string;
}

export const DEFAULT_DEPLOY_STATE_DIR = ".labgate/deploy";

export function deployStatePath(dir: string, platform: PlatformName, name: string): string {
  return join(dir, `${platform}-${name}.json`);
}

export async function readDeployRecord(path: string): Promise<DeployRecord | undefined> {
  const raw = (await readJsonFile(path)) as Partial<DeployRecord> | undefined;
  if (raw === undefined) return undefined;
  if (raw.version !== 1 || typeof raw.ref?.id !== "string" || typeof raw.ref?.platform !== "string") {
    throw new StateError("DEPLOY_STATE_INVALID", `${path} is not a labgate deploy record.`, {
      hint: "Restore it, or delete the node by hand on the platform and remove the file.",
    });
  }
  return raw as DeployRecord;
}

export async function writeDeployRecord(path: string, record: DeployRecord): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await withFileLock(path, () => writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`));
}

export async function removeDeployRecord(path: string): Promise<void> {
  await withFileLock(path, () => rm(path, { force: true }));
}
