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
  /**
   * "creating": the intent, written before the first mutating call and updated with the id before each
   * one; a record still "creating" after the run means it was interrupted. Absent: the node is complete.
   */
  status?: "creating";
  /** While creating, `id` is "" until the platform (or the adapter) names the node's id. */
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
  if (
    raw.version !== 1 ||
    typeof raw.ref?.id !== "string" ||
    typeof raw.ref?.platform !== "string" ||
    typeof raw.ref?.name !== "string" ||
    (raw.status !== undefined && raw.status !== "creating") ||
    (raw.status === undefined && raw.ref.id === "")
  ) {
    throw new StateError("DEPLOY_STATE_INVALID", `${path} is not a labgate deploy record.`, {
      hint: "Restore it, or delete the node by hand on the platform and remove the file.",
    });
  }
  return raw as DeployRecord;
}

/** Written atomically, 0600, in a directory created 0700: records name nodes and addresses. */
export async function writeDeployRecord(path: string, record: DeployRecord): Promise<void> {
  await makeDeployStateDir(join(path, ".."));
  await withFileLock(path, () =>
    writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 }),
  );
}

/** Creates the state directory (and missing parents) 0700; an existing directory is left as it is. */
export async function makeDeployStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

export async function removeDeployRecord(path: string): Promise<void> {
  await withFileLock(path, () => rm(path, { force: true }));
}
