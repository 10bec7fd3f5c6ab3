import { labEndpoint } from "../engine/lab-status.js";
import type { LabProvider, ResourceHealth, StepContext } from "../engine/step.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { benchSettings } from "./bench-settings.js";
import { BENCH_STEP_ID, benchHealth, benchStep } from "./bench-step.js";

/**
 * Every provider's lab ends with the bench step: added after its last step (through its endpoint)
 * unless the provider already plans one or the spec turns it off; `lab status` gets its last result.
 */
export function withBenchStep(provider: LabProvider): LabProvider {
  const status = provider.status?.bind(provider);
  return {
    ...provider,
    plan(spec: LabSpec) {
      const steps = provider.plan(spec);
      if (!benchSettings(spec).enabled || steps.some((s) => s.id === BENCH_STEP_ID)) return steps;
      return [...steps, benchStep(spec, labEndpoint(provider, spec))];
    },
    async status(ctx: StepContext): Promise<ResourceHealth[]> {
      const health = status ? await status(ctx) : [];
      return health.some((h) => h.kind === "bench") ? health : [...health, ...benchHealth(ctx)];
    },
  };
}
