import { labEndpoint } from "../engine/lab-status.js";
import type { LabProvider, ResourceHealth, StepContext } from "../engine/step.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { benchSettings } from "./bench-settings.js";
import { BENCH_STEP_ID, benchHealth, benchStep } from "./bench-step.js";
import { FAILOVER_STEP_ID, failoverHealth, failoverStep } from "./failover-step.js";

/**
 * Every provider's lab ends with the bench step (and, when the spec has `faults:`, the failover check): added after its last step, through the endpoint
 * the provider names, unless it already plans one or the spec turns it off; `lab status` gets its
 * last result. A provider that names no endpoint is returned as it is: where its service answers
 * would only be a guess, and a benchmark must not be sent to a guessed address.
 */
export function withBenchStep(provider: LabProvider): LabProvider {
  if (!provider.endpoint) return provider;
  const status = provider.status?.bind(provider);
  return {
    ...provider,
    plan(spec: LabSpec) {
      const steps = provider.plan(spec);
      const endpoint = labEndpoint(provider, spec);
      if (benchSettings(spec).enabled && !steps.some((s) => s.description.id === BENCH_STEP_ID))
        steps.push(benchStep(spec, endpoint, provider.lbConfig?.bind(provider)));
      // With `faults:` the lab ends with the failover check (refused here when the provider cannot do a fault).
      if (spec.faults?.length && !steps.some((s) => s.description.id === FAILOVER_STEP_ID))
        steps.push(failoverStep(spec, provider, endpoint));
      return steps;
    },
    async status(ctx: StepContext): Promise<ResourceHealth[]> {
      const health = status ? await status(ctx) : [];
      return [
        ...health,
        ...(health.some((h) => h.kind === "bench") ? [] : benchHealth(ctx)),
        ...(health.some((h) => h.kind === "failover") ? [] : failoverHealth(ctx)),
      ];
    },
  };
}
