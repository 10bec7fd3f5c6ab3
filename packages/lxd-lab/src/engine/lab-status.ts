import { PreconditionError } from "@labgate/core";
import { LabVerifyFailedError } from "../errors.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { LabStateStore, type StepRecord } from "./lab-state.js";
import { planSteps } from "./plan-view.js";
import type { HealthState, LabProvider, LabVerifyOptions, LabVerifyResult, StepContext } from "./step.js";
import { createStepContext } from "./step-context.js";
import { describeFailure } from "./step-failure.js";

export interface StepStatusView {
  id: string;
  title: string;
  /** What the state file says: "pending" when it has no record. */
  recorded: StepRecord["status"] | "pending";
  doneAt?: string;
  error?: string;
  /** What the step's own check finds now (read-only). */
  live: { done: boolean; detail?: string } | { error: string };
}

export interface ResourceStatusView {
  kind: string;
  id: string;
  stepId: string;
  health: HealthState;
  detail?: string;
  data?: Record<string, unknown>;
}

export interface LabStatus {
  lab: string;
  provider: string;
  stateDir: string;
  /** Is there a state file at all? */
  exists: boolean;
  updatedAt?: string;
  steps: StepStatusView[];
  resources: ResourceStatusView[];
  /** The verdict of `lab status` (exit 0 only when true): built here, every step live-done, every resource healthy. */
  healthy: boolean;
}

export interface LabReadOptions {
  provider: LabProvider;
  spec: LabSpec;
  stateDir: string;
  log?: (message: string) => void;
  signal?: AbortSignal;
  /** `lab status`: how long each probe may take (default STATUS_PROBE_TIMEOUT_MS); a slower one counts as failed. */
  probeTimeoutMs?: number;
}

/**
 * How long the probes of `lab status` (every step's check and the provider's health, all at once) may take
 * before they count as failed. Probes run in parallel, so a stopped container costs one probe's time (its
 * state answers at once; an HTTP probe of its address gives up after ~3 s), not one timeout per probe. The
 * deadline only bounds a probe that hangs; it is generous because a loaded host (CI, 2 cores) is slow to
 * spawn tools and answer, and a healthy lab must not read as broken.
 */
export const STATUS_PROBE_TIMEOUT_MS = 5_000;

/** The budget of a read-only step's live check in `lab status` (preflight spawns tools; verify sends requests). */
export const CHECK_STEP_TIMEOUT_MS = 10_000;

/**
 * `lab status`: read-only, and a check: recorded progress, each step's live check and each resource's
 * health, all probed at once with a deadline, so a dead container costs one timeout, not one per probe.
 * `healthy` is true only when every step is live-done and every resource is healthy.
 */
export async function labStatus(options: LabReadOptions): Promise<LabStatus> {
  const { provider, spec } = options;
  const { store, exists } = await openReadOnly(options);
  const timeoutMs = options.probeTimeoutMs ?? STATUS_PROBE_TIMEOUT_MS;
  const signal0 = options.signal ?? new AbortController().signal;
  const signal = AbortSignal.any([signal0, AbortSignal.timeout(timeoutMs)]);
  const log = options.log ?? (() => {});
  const ctx = createStepContext(store, spec, provider, log, signal);
  const readOnlyBudget = Math.max(timeoutMs, CHECK_STEP_TIMEOUT_MS);
  const readOnlyCtx = createStepContext(
    store,
    spec,
    provider,
    log,
    AbortSignal.any([signal0, AbortSignal.timeout(readOnlyBudget)]),
  );
  const state = store.snapshot(spec.name, provider.name);
  const [steps, health] = await Promise.all([
    Promise.all(
      planSteps(provider, spec).map(async ({ description: step, actions }): Promise<StepStatusView> => {
        const rec = state.steps[step.id];
        let live: StepStatusView["live"];
        try {
          // A read-only check (preflight: runs python3/haproxy -vv; verify) is not a probe of one resource:
          // it gets the longer budget, so a loaded host does not turn a healthy lab into "no answer".
          const budget = step.readOnly ? readOnlyBudget : timeoutMs;
          const found = await withDeadline(
            actions.check(step.readOnly ? readOnlyCtx : ctx),
            step.readOnly ? readOnlyCtx.signal : signal,
            `check of ${step.id}`,
            budget,
          );
          live = { done: found.done, ...(found.detail ? { detail: found.detail } : {}) };
        } catch (error) {
          live = { error: describeFailure(error).message };
        }
        return {
          id: step.id,
          title: step.title,
          recorded: rec?.status ?? "pending",
          ...(rec?.doneAt ? { doneAt: rec.doneAt } : {}),
          ...(rec?.error ? { error: rec.error } : {}),
          live,
        };
      }),
    ),
    provider.status
      ? withDeadline(provider.status(ctx), signal, "health probes", timeoutMs).catch(
          (error: unknown) => describeFailure(error).message,
        )
      : Promise.resolve([]),
  ]);
  const resources: ResourceStatusView[] = state.resources.map((r) => {
    const h = typeof health === "string" ? undefined : health.find((x) => x.kind === r.kind && x.id === r.id);
    if (h) return view(r, h.health, h.detail);
    if (typeof health === "string") return view(r, "unknown", `health check failed: ${health}`);
    // No probe of its own (a payload hash, a file): the live check of the step that made it is its verdict.
    const owner = steps.find((s) => s.id === r.stepId);
    if (owner && "done" in owner.live)
      return owner.live.done
        ? view(
            r,
            "healthy",
            `step ${owner.id} finds it in place${owner.live.detail ? `: ${owner.live.detail}` : ""}`,
          )
        : view(
            r,
            "unhealthy",
            `step ${owner.id} finds it missing or drifted${owner.live.detail ? `: ${owner.live.detail}` : ""}`,
          );
    if (owner && "error" in owner.live)
      return view(r, "unknown", `step ${owner.id}'s check failed: ${owner.live.error}`);
    return view(
      r,
      "unknown",
      provider.status ? "no health reported for it" : `provider "${provider.name}" reports no health`,
    );
  });
  return {
    lab: spec.name,
    provider: provider.name,
    stateDir: options.stateDir,
    exists,
    ...(exists ? { updatedAt: state.updatedAt } : {}),
    steps,
    resources,
    healthy:
      exists &&
      steps.every((s) => "done" in s.live && s.live.done) &&
      resources.every((r) => r.health === "healthy"),
  };
}

function view(
  r: { kind: string; id: string; stepId: string; data?: Record<string, unknown> },
  health: HealthState,
  detail: string | undefined,
): ResourceStatusView {
  return {
    kind: r.kind,
    id: r.id,
    stepId: r.stepId,
    health,
    ...(detail ? { detail } : {}),
    ...(r.data ? { data: r.data } : {}),
  };
}

/** `work`, or a rejection naming what did not answer once `signal` fires (the probe is abandoned, not awaited). */
function withDeadline<T>(work: Promise<T>, signal: AbortSignal, what: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(new Error(`${what}: no answer within ${timeoutMs / 1000} s (counted as not healthy)`));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** `lab verify`: the provider's end-to-end check (round robin through the LB). Read-only; see `assertVerified`. */
export async function labVerify(
  options: LabReadOptions & { verify?: LabVerifyOptions },
): Promise<LabVerifyResult> {
  const { provider } = options;
  if (!provider.verify) {
    throw new PreconditionError(
      "VERIFY_UNSUPPORTED",
      `Provider "${provider.name}" has no end-to-end verification.`,
      {
        hint: "Use `labgate lab status` to see each step and resource instead.",
      },
    );
  }
  const { ctx, exists } = await openReadOnly(options);
  if (!exists) {
    // Requests to the spec's ports would reach whatever else listens there and report on it.
    throw new PreconditionError(
      "LAB_NOT_BUILT",
      `Lab "${options.spec.name}" has not been built here: there is no state in ${options.stateDir}.`,
      {
        hint: "Build it first with `labgate lab up`, or point --state-dir / --spec at the lab you mean.",
        details: { stateDir: options.stateDir },
      },
    );
  }
  return provider.verify(ctx, options.verify ?? {});
}

/** Turns a failed verification into LabVerifyFailedError (exit 1). */
export function assertVerified(result: LabVerifyResult, spec: LabSpec): LabVerifyResult {
  if (!result.passed) {
    throw new LabVerifyFailedError(
      `Lab "${spec.name}" failed verification: ${result.summary}`,
      "Run `labgate lab status` to see which resource is unhealthy, then `labgate lab up` to repair it.",
      { summary: result.summary, lines: result.lines ?? [], result: result.data ?? null },
    );
  }
  return result;
}

/** The default URL of the lab's service: the provider's, else the LB port on loopback. */
export function labEndpoint(provider: LabProvider, spec: LabSpec): string {
  if (provider.endpoint) return provider.endpoint(spec);
  const host = spec.lb.expose?.address ?? "127.0.0.1";
  return `http://${host}:${spec.lb.expose?.port ?? spec.lb.port}/`;
}

async function openReadOnly(
  options: LabReadOptions,
): Promise<{ store: LabStateStore; ctx: StepContext; exists: boolean }> {
  const store = new LabStateStore(options.stateDir);
  const exists = (await store.load()) !== undefined;
  const ctx = createStepContext(
    store,
    options.spec,
    options.provider,
    options.log ?? (() => {}),
    options.signal ?? new AbortController().signal,
  );
  return { store, ctx, exists };
}
