import { chmod, mkdir, rm, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { readJsonFile, StateError, withFileLock, writeFileAtomic } from "@labgate/core";
import type { LabSpec } from "../spec/lab-spec.js";
import type { ResourceRecord } from "./step.js";

export type StepStatus = "applying" | "done" | "failed" | "interrupted" | "undoing";

export interface StepRecord {
  status: StepStatus;
  /** When the status was last set (ISO 8601). */
  at: string;
  /** When the step was last completed and verified. */
  doneAt?: string;
  detail?: string;
  error?: string;
}

export interface LabState {
  version: 1;
  lab: string;
  provider: string;
  createdAt: string;
  updatedAt: string;
  /** The spec the lab was last built from, so `lab down` undoes what was built even if lab.json changed since. */
  spec?: LabSpec;
  steps: Record<string, StepRecord>;
  resources: ResourceRecord[];
}

export const STATE_FILE = "state.json";

/**
 * The lab's progress on disk: `<stateDir>/state.json`, rewritten atomically (0600) under the core
 * file lock on every change, so a crash or Ctrl-C at any moment leaves the last complete version.
 */
export class LabStateStore {
  readonly stateDir: string;
  readonly path: string;
  private current: LabState | undefined;

  constructor(stateDir: string) {
    this.stateDir = stateDir;
    this.path = join(stateDir, STATE_FILE);
  }

  /** Reads the state file; `undefined` when the lab has no state yet. A corrupt file is a StateError naming it. */
  async load(): Promise<LabState | undefined> {
    const raw = await readJsonFile(this.path);
    this.current = raw === undefined ? undefined : validateState(raw, this.path);
    return this.current;
  }

  /** The state as last loaded or written (empty when there is none). */
  snapshot(lab: string, provider: string): LabState {
    return this.current ?? emptyState(lab, provider);
  }

  /**
   * Creates the state dir (0700) so steps can put logs and pid files in it. Returns the topmost
   * directory this call had to create (e.g. `.labgate` of `.labgate/labs/demo`), if any.
   */
  async ensureDir(): Promise<string | undefined> {
    const created = await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await chmod(this.stateDir, 0o700);
    return created;
  }

  /**
   * Undoes ensureDir for a run that recorded nothing: removes the state dir and its parents up to
   * `createdTop`, each only while empty. Directories that existed before are never touched.
   */
  async removeCreatedDirs(createdTop: string | undefined): Promise<void> {
    if (createdTop === undefined) return;
    for (let dir = this.stateDir; ; dir = dirname(dir)) {
      const removed = await rmdir(dir).then(
        () => true,
        () => false,
      );
      if (!removed || dir === createdTop || dirname(dir) === dir) return;
    }
  }

  /** Applies `change` to the freshest state on disk and writes it back, all under the lock. */
  async update(lab: string, provider: string, change: (state: LabState) => void): Promise<LabState> {
    await this.ensureDir();
    return withFileLock(this.path, async () => {
      const raw = await readJsonFile(this.path);
      const state = raw === undefined ? emptyState(lab, provider) : validateState(raw, this.path);
      change(state);
      state.updatedAt = new Date().toISOString();
      await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      this.current = state;
      return state;
    });
  }

  /** Removes the whole state dir (logs, pid files, state.json): the lab is gone. */
  async removeAll(): Promise<void> {
    await rm(this.stateDir, { recursive: true, force: true });
    this.current = undefined;
  }
}

function emptyState(lab: string, provider: string): LabState {
  const now = new Date().toISOString();
  return { version: 1, lab, provider, createdAt: now, updatedAt: now, steps: {}, resources: [] };
}

function validateState(raw: unknown, path: string): LabState {
  const bad = (what: string): never => {
    throw new StateError("STATE_CORRUPT", `The lab state file ${path} is not a labgate lab state: ${what}.`, {
      hint: `Fix the file by hand, or if the lab's resources are already gone, remove ${path} and run the command again.`,
      details: { path },
    });
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return bad("it is not a JSON object");
  const s = raw as Partial<LabState>;
  if (s.version !== 1) bad(`unsupported version ${JSON.stringify(s.version)}`);
  if (typeof s.steps !== "object" || s.steps === null || Array.isArray(s.steps))
    bad('"steps" is not an object');
  if (!Array.isArray(s.resources)) bad('"resources" is not a list');
  for (const [i, r] of (s.resources as unknown[]).entries()) {
    const rec = r as Partial<ResourceRecord> | null;
    if (
      !rec ||
      typeof rec.kind !== "string" ||
      typeof rec.id !== "string" ||
      typeof rec.stepId !== "string"
    ) {
      bad(`resources[${i}] lacks kind, id or stepId`);
    }
  }
  return s as LabState;
}
