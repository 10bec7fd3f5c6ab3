import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { readJsonFile, StateError, withFileLock, writeFileAtomic } from "@labgate/core";
import type { StepRecord, StepStatus } from "./lab-state.js";
import type { PlanStore } from "./plan-step.js";

export interface JsonPlanStoreOptions {
  /** How long to wait for another process's lock on the file (default 5 s). */
  lockTimeoutMs?: number;
  /** Delete the file when the last step is forgotten (a destroyed deployment leaves nothing behind). */
  removeWhenEmpty?: boolean;
}

/** A PlanStore over one JSON file, with the records it holds (for status output and --json). */
export interface JsonPlanStore extends PlanStore {
  readonly path: string;
  records(): Record<string, StepRecord>;
}

interface PlanFile {
  version: 1;
  steps: Record<string, StepRecord>;
}

const STATUSES: readonly StepStatus[] = ["applying", "done", "failed", "interrupted", "undoing"];

/**
 * Loads (or starts) `{version: 1, steps}` at `path`. Every change re-reads the file under the core file
 * lock and writes it atomically with mode 0600, so two runs never lose each other's records and a crash
 * leaves the last complete version.
 */
export async function createJsonPlanStore(
  path: string,
  options: JsonPlanStoreOptions = {},
): Promise<JsonPlanStore> {
  const lock = { timeoutMs: options.lockTimeoutMs ?? 5_000 };
  let steps = (await readPlanFile(path))?.steps ?? {};

  const change = async (edit: (steps: Record<string, StepRecord>) => void): Promise<void> => {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await withFileLock(
      path,
      async () => {
        const latest = (await readPlanFile(path))?.steps ?? {};
        edit(latest);
        steps = latest;
        if (options.removeWhenEmpty && Object.keys(latest).length === 0) {
          await rm(path, { force: true });
          return;
        }
        const file: PlanFile = { version: 1, steps: latest };
        await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      },
      lock,
    );
  };

  return {
    location: path,
    path,
    status: (stepId) => steps[stepId],
    records: () => structuredClone(steps),
    mark: (stepId, record) =>
      change((latest) => {
        const now = new Date().toISOString();
        const previous = latest[stepId];
        // A step done again keeps the time it was first completed.
        const doneAt =
          record.status === "done"
            ? (previous?.status === "done" && previous.doneAt) || now
            : previous?.doneAt;
        latest[stepId] = { ...record, at: now, ...(doneAt ? { doneAt } : {}) };
      }),
    forget: (stepId) =>
      change((latest) => {
        delete latest[stepId];
      }),
  };
}

async function readPlanFile(path: string): Promise<PlanFile | undefined> {
  const raw = await readJsonFile(path);
  if (raw === undefined) return undefined;
  const bad = (why: string) =>
    new StateError("STATE_CORRUPT", `${path} is not a labgate progress file: ${why}.`, {
      hint: `Move ${path} aside (it was not written by this version of labgate, or was edited by hand) and run the command again.`,
      details: { path },
    });
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("not a JSON object");
  const file = raw as Partial<PlanFile>;
  if (file.version !== 1) throw bad(`version ${JSON.stringify(file.version)}, expected 1`);
  if (typeof file.steps !== "object" || file.steps === null || Array.isArray(file.steps))
    throw bad('"steps" is not an object');
  for (const [id, record] of Object.entries(file.steps)) {
    if (!record || !STATUSES.includes(record.status) || typeof record.at !== "string")
      throw bad(`step "${id}" has no valid status and time`);
  }
  return file as PlanFile;
}
