import { chmod, mkdir, readdir, rm, rmdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
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
  /** What labgate itself made in and around the state dir: `lab down` removes exactly this, nothing else. */
  owned?: OwnedPaths;
}

export interface OwnedPaths {
  /** The state dir did not exist before the lab's first `lab up` (only then is it chmodded or removed). */
  stateDir: boolean;
  /** The topmost directory labgate created for it (e.g. `.labgate` of `.labgate/labs/demo`), if any. */
  createdTop?: string;
  /** Names of entries in the state dir that steps created (logs, pid files, configs); nothing else is deleted. */
  entries: string[];
}

/** What the engine itself keeps in the state dir: the state file, its locks and temp files, the run lock. */
export function isEngineFile(name: string): boolean {
  return (
    name === STATE_FILE ||
    name.startsWith(`${STATE_FILE}.`) ||
    name.startsWith(`.${STATE_FILE}.`) ||
    name.startsWith("run.lock")
  );
}

/** What `removeOwned` left: the state dir is removed only when it was ours and is empty afterwards. */
export interface RemovalResult {
  stateDirRemoved: boolean;
  /** Entries left in the state dir that labgate did not create. */
  foreign: string[];
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
  /** The topmost directory this store created for the state dir (kept in `owned` with a new state). */
  private madeTop: string | undefined;

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
    // A directory that existed before (a project folder given as --state-dir) keeps its mode: it is not ours.
    if (created !== undefined) {
      await chmod(this.stateDir, 0o700);
      this.madeTop ??= created;
    }
    return created;
  }

  /** Top-level entry names in the state dir now (empty when it does not exist). */
  async entries(): Promise<string[]> {
    return readdir(this.stateDir).catch(() => [] as string[]);
  }

  /**
   * Remembers which new entries appeared in the state dir since `before` (what a step just wrote), so
   * `lab down` can remove them and only them.
   */
  async adoptNewEntries(lab: string, provider: string, before: readonly string[]): Promise<void> {
    const known = new Set(before);
    const fresh = (await this.entries()).filter((n) => !known.has(n) && !isEngineFile(n));
    if (fresh.length === 0) return;
    await this.update(lab, provider, (state) => {
      const owned = state.owned ?? { stateDir: false, entries: [] };
      owned.entries = [...new Set([...owned.entries, ...fresh])].sort();
      state.owned = owned;
    });
  }

  /**
   * `lab down` when nothing is left: removes the entries labgate created, the state file and its locks,
   * then the state dir and the parents labgate created, each only when it is empty. Files anyone else put
   * there stay, and so does a state dir that existed before the lab.
   */
  async removeOwned(): Promise<RemovalResult> {
    const owned = this.current?.owned ?? { stateDir: false, entries: [] };
    for (const name of owned.entries) {
      // Only plain names inside the state dir: a hand-edited "../x" must not reach outside it.
      if (name !== basename(name) || name === "." || name === ".." || name === "") continue;
      await rm(join(this.stateDir, name), { recursive: true, force: true });
    }
    for (const name of await this.entries()) {
      if (isEngineFile(name)) await rm(join(this.stateDir, name), { force: true });
    }
    this.current = undefined;
    const foreign = await this.entries();
    if (!owned.stateDir || foreign.length > 0) return { stateDirRemoved: false, foreign };
    await this.removeCreatedDirs(owned.createdTop ?? this.stateDir);
    const gone = await readdir(this.stateDir).then(
      () => false,
      () => true,
    );
    return { stateDirRemoved: gone, foreign: [] };
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
      if (raw === undefined) {
        // A new lab: whether labgate made the state dir decides whether `lab down` may remove it.
        state.owned = {
          stateDir: this.madeTop !== undefined,
          ...(this.madeTop !== undefined ? { createdTop: this.madeTop } : {}),
          entries: [],
        };
      }
      change(state);
      state.updatedAt = new Date().toISOString();
      await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      this.current = state;
      return state;
    });
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
  if (s.owned !== undefined) {
    const o = s.owned as Partial<OwnedPaths> | null;
    if (
      !o ||
      typeof o.stateDir !== "boolean" ||
      !Array.isArray(o.entries) ||
      o.entries.some((e) => typeof e !== "string")
    )
      bad('"owned" is not { stateDir, entries }');
  }
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
  if (typeof s.lab !== "string" || typeof s.provider !== "string") bad('"lab" or "provider" is missing');
  return s as LabState;
}
