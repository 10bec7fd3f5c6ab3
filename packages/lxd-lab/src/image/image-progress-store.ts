import { join } from "node:path";
import { createJsonPlanStore } from "../engine/json-plan-store.js";
import type { StepRecord } from "../engine/lab-state.js";
import type { PlanStore } from "../engine/plan-step.js";
import type { ImageBuildOptions } from "./image-build-options.js";
import { exists } from "./image-cache.js";

/** The build's progress file, in its cache entry beside the tarballs it leads to. */
export const PROGRESS_FILE = "progress.json";

/** Records kept in memory only: a dry run writes nothing. */
export function memoryPlanStore(location = "memory (dry run: nothing is written)"): PlanStore {
  const steps = new Map<string, StepRecord>();
  return {
    location,
    status: (id) => steps.get(id),
    async mark(id, record) {
      steps.set(id, { ...record, at: new Date().toISOString() });
    },
    async forget(id) {
      steps.delete(id);
    },
  };
}

/**
 * The progress of a build, in `<entry>/progress.json`. A build that has not changed anything yet
 * keeps its records in memory until the first step is about to change something (status
 * "applying"), so a run that finds everything cached, or is refused at the first gate, leaves the
 * cache as it was. A file left by an earlier run is used from the start (resume).
 */
export async function imageProgressStore(o: ImageBuildOptions): Promise<PlanStore> {
  const path = join(o.entryDir, PROGRESS_FILE);
  // An undone build leaves no progress file behind.
  const disk = await createJsonPlanStore(path, { removeWhenEmpty: true });
  if (await exists(path)) return disk;
  const early = memoryPlanStore(path);
  const seen: string[] = [];
  let written = false;
  return {
    location: path,
    status: (id) => (written ? disk.status(id) : early.status(id)),
    async mark(id, record) {
      if (!written && record.status !== "applying") {
        if (!seen.includes(id)) seen.push(id);
        return early.mark(id, record);
      }
      if (!written) {
        for (const earlier of seen) {
          const kept = early.status(earlier);
          if (kept) await disk.mark(earlier, withoutTime(kept));
        }
        written = true;
      }
      await disk.mark(id, record);
    },
    forget: (id) => (written ? disk.forget(id) : early.forget(id)),
  };
}

function withoutTime({ at: _at, ...rest }: StepRecord): Omit<StepRecord, "at"> {
  return rest;
}
