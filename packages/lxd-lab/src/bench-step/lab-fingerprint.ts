import { type LabFingerprint, labFingerprint } from "@labgate/bench";
import { LabStateStore } from "../engine/lab-state.js";
import type { LabProvider, StepContext } from "../engine/step.js";
import { createStepContext } from "../engine/step-context.js";
import type { LabSpec } from "../spec/lab-spec.js";

/** Reads the HAProxy configuration the lab's LB runs (null when it cannot be read). */
export type LbConfigReader = (ctx: StepContext) => Promise<string | null>;

/** The lab's shape as built from its spec: what a benchmark of it measured through. */
export function labTopology(spec: LabSpec): string {
  const apps = Array.from(
    { length: spec.apps.count },
    (_, i) => `${spec.apps.namePrefix}${i + 1}:${spec.apps.ports[i] ?? "?"}`,
  );
  return `1 LB (HAProxy "${spec.lb.name}" on :${spec.lb.port}) + ${spec.apps.count} app(s) ${apps.join(", ")} on ${spec.network.cidr}`;
}

/**
 * The fingerprint a lab's benchmark result carries (provider, topology, sha256 of the HAProxy config
 * its LB runs), so `bench compare` can tell when two runs measured different labs. The config is
 * read from the live LB; when that fails the hash is null ("unknown") rather than a guess.
 */
export async function benchLabFingerprint(
  ctx: StepContext,
  readLbConfig: LbConfigReader | undefined,
): Promise<LabFingerprint> {
  const config = readLbConfig ? await readLbConfig(ctx).catch(() => null) : null;
  return labFingerprint({
    name: ctx.spec.name,
    provider: ctx.spec.provider,
    topology: labTopology(ctx.spec),
    haproxyConfig: config,
  });
}

/** The fingerprint of a built lab from its state dir (`labgate bench run --lab`); read-only. */
export async function labFingerprintFromState(target: {
  spec: LabSpec;
  provider: LabProvider;
  stateDir: string;
  signal?: AbortSignal;
}): Promise<LabFingerprint> {
  const store = new LabStateStore(target.stateDir);
  await store.load();
  const ctx = createStepContext(
    store,
    target.spec,
    target.provider,
    () => {},
    target.signal ?? new AbortController().signal,
  );
  return benchLabFingerprint(ctx, target.provider.lbConfig?.bind(target.provider));
}
