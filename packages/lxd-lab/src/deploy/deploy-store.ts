import { rm } from "node:fs/promises";
import { type DeployRecord, readDeployRecord } from "@labgate/core";
import { createJsonPlanStore } from "../engine/json-plan-store.js";
import type { StepRecord } from "../engine/lab-state.js";
import type { PlanStore } from "../engine/plan-step.js";
import { CREATE_NODE_STEP } from "./create-node-step.js";
import { RESERVE_ADDRESS_STEP } from "./reserve-address-step.js";
import { WAIT_RUNNING_STEP } from "./wait-running-step.js";

/** The deploy's step progress, beside its record (a name never ends in `.json.steps`, so no record collides). */
export function deployStepsPath(statePath: string): string {
  return `${statePath}.steps`;
}

export interface DeployPlanStore extends PlanStore {
  /** The deploy record as it was when the run started (what `destroy` and DEPLOY_EXISTS look at). */
  readonly record: DeployRecord | undefined;
}

/**
 * The step progress of one deployment. A record written without step progress (by an earlier labgate,
 * or by hand) still says what ran: its pool owner means the address is held, a "creating" record an
 * interrupted create, a complete one a node that was made and ran. Once a step is marked or forgotten
 * here, only the progress file speaks for it.
 */
export async function openDeployPlanStore(statePath: string): Promise<DeployPlanStore> {
  const record = await readDeployRecord(statePath);
  const steps = await createJsonPlanStore(deployStepsPath(statePath), { removeWhenEmpty: true });
  const touched = new Set<string>();
  const inferred = (id: string): StepRecord | undefined => {
    if (!record || touched.has(id)) return undefined;
    const at = record.createdAt;
    if (id === RESERVE_ADDRESS_STEP) return record.ipOwner ? { status: "done", at } : undefined;
    if (id === CREATE_NODE_STEP) return { status: record.status === "creating" ? "interrupted" : "done", at };
    if (id === WAIT_RUNNING_STEP) return record.status === "creating" ? undefined : { status: "done", at };
    return undefined;
  };
  return {
    record,
    location: steps.location,
    status: (id) => steps.status(id) ?? inferred(id),
    async mark(id, r) {
      touched.add(id);
      await steps.mark(id, r);
    },
    async forget(id) {
      touched.add(id);
      await steps.forget(id);
    },
  };
}

/** After a destroy that removed everything: the progress file goes with the record. */
export async function removeDeployProgress(statePath: string): Promise<void> {
  await rm(deployStepsPath(statePath), { force: true });
}
