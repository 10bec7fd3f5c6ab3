import { redactValue } from "@labgate/core";
import type { LabSpec } from "../spec/lab-spec.js";
import type { LabStateStore } from "./lab-state.js";
import type { LabProvider, ResourceRecord, StepContext } from "./step.js";

/** The context handed to steps: records resources durably the moment they are known. */
export function createStepContext(
  store: LabStateStore,
  spec: LabSpec,
  provider: LabProvider,
  log: (message: string) => void,
  signal: AbortSignal,
): StepContext {
  return {
    spec,
    stateDir: store.stateDir,
    signal,
    log,
    async record(resource: ResourceRecord) {
      const clean = redactValue(resource);
      await store.update(spec.name, provider.name, (state) => {
        const i = state.resources.findIndex((r) => r.kind === clean.kind && r.id === clean.id);
        if (i >= 0) state.resources[i] = clean;
        else state.resources.push(clean);
      });
    },
    async forget(kind: string, id: string) {
      await store.update(spec.name, provider.name, (state) => {
        state.resources = state.resources.filter((r) => !(r.kind === kind && r.id === id));
      });
    },
    resources(kind?: string) {
      const all = store.snapshot(spec.name, provider.name).resources;
      return (kind === undefined ? all : all.filter((r) => r.kind === kind)).map((r) => ({ ...r }));
    },
  };
}
