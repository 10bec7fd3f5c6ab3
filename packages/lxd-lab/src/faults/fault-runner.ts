import { LabgateError } from "@labgate/core/errors";
import { FaultFailedError } from "../errors.js";
import { describeFault, type FaultSpec } from "./fault-spec.js";

/** How to do one fault to its target and take it back. Built before the run, so bad targets fail early. */
export interface FaultHandle {
  /** Makes the fault happen (stop the process, drain the server ...). */
  apply(): Promise<void>;
  /** Puts the target back as it was; must be safe to call after a partial or failed apply. */
  undo(): Promise<void>;
}

export type FaultActuator = (fault: FaultSpec) => FaultHandle;

/** What happened to one fault, on the run's clock (ms since the runner started). */
export interface FaultTimeline {
  fault: FaultSpec;
  /** When apply was called / returned (undefined: never started, e.g. interrupted before). */
  appliedAtMs?: number;
  activeAtMs?: number;
  /** When undo was called / returned. */
  undoAtMs?: number;
  undoneAtMs?: number;
  /** Why it was undone: its window ended, or the run was interrupted or failed. */
  undoReason?: "window-end" | "interrupted" | "error";
  error?: string;
}

export interface FaultRunOptions {
  /** Ctrl-C or the bench's end: every applied fault is undone at once, then the run resolves. */
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Called before every mutating call, so a crash leaves a record of what may be left undone. */
  journal?: (entry: { fault: FaultSpec; phase: "apply" | "undo"; atMs: number }) => Promise<void> | void;
  /** Clock in ms; defaults to performance.now(). */
  now?: () => number;
}

export interface FaultRunResult {
  timelines: FaultTimeline[];
  interrupted: boolean;
}

/**
 * Runs faults on schedule: each is applied at its offset and undone when its window ends. On abort
 * or on any apply error every fault that was (even partly) applied is undone before this settles,
 * so no backend is left stopped, frozen, drained or delayed. An apply error is thrown after the
 * undo; undo errors are collected and thrown together, naming each backend left in doubt.
 */
export async function runFaults(
  faults: readonly FaultSpec[],
  actuator: FaultActuator,
  options: FaultRunOptions = {},
): Promise<FaultRunResult> {
  const now = options.now ?? (() => performance.now());
  const log = options.log ?? (() => {});
  const t0 = now();
  const clock = () => Math.round(now() - t0);
  const handles = faults.map((f) => ({ fault: f, handle: actuator(f) }));
  const timelines: FaultTimeline[] = faults.map((fault) => ({ fault }));
  const timers = new Set<NodeJS.Timeout>();
  const pendingApplies = new Set<Promise<void>>();
  const pendingUndos = new Set<Promise<void>>();
  const undoErrors: { fault: FaultSpec; error: unknown }[] = [];
  let applyError: { fault: FaultSpec; error: unknown } | undefined;
  let stopping = false;
  let interrupted = false;
  let settle!: () => void;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });

  const undo = async (i: number, reason: FaultTimeline["undoReason"]) => {
    const tl = timelines[i] as FaultTimeline;
    const { fault, handle } = handles[i] as (typeof handles)[number];
    if (tl.appliedAtMs === undefined || tl.undoAtMs !== undefined) return;
    tl.undoAtMs = clock();
    tl.undoReason = reason;
    await options.journal?.({ fault, phase: "undo", atMs: tl.undoAtMs });
    try {
      await handle.undo();
      tl.undoneAtMs = clock();
      log(`fault undone (${reason}) at ${tl.undoneAtMs} ms: ${describeFault(fault)}`);
    } catch (error) {
      tl.error = `undo failed: ${(error as Error).message}`;
      undoErrors.push({ fault, error });
    }
  };

  const stopAll = async (reason: "interrupted" | "error") => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    // An apply still in flight is undone once it returns (its undo must see the applied state).
    await Promise.allSettled([...pendingApplies]);
    await Promise.all([...timelines.map((_, i) => undo(i, reason)), ...pendingUndos]);
    settle();
  };

  // Never before its time: Node's timers run on the event loop's whole-ms clock, so one may fire a
  // fraction of a ms early on this clock; it waits the rest, and a fault at 1 s is applied at ≥ 1000 ms.
  const at = (ms: number, fn: () => void, early = 0) => {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        // (A clock that does not move, handed in as `now`, is not waited for more than a few times.)
        if (now() - t0 < ms && early < 5) at(ms, fn, early + 1);
        else fn();
      },
      Math.max(1, Math.ceil(ms - (now() - t0))),
    );
    timers.add(timer);
  };

  let remaining = faults.length;
  const oneDone = () => {
    remaining -= 1;
    if (remaining === 0 && !stopping) settle();
  };

  const onAbort = () => {
    interrupted = true;
    void stopAll("interrupted");
  };
  if (options.signal?.aborted) {
    interrupted = true;
    stopping = true;
    settle();
  } else {
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (faults.length === 0) settle();
    for (const [i, { fault, handle }] of handles.entries()) {
      at(fault.atMs, () => {
        if (stopping) return;
        const tl = timelines[i] as FaultTimeline;
        const run = (async () => {
          tl.appliedAtMs = clock();
          await options.journal?.({ fault, phase: "apply", atMs: tl.appliedAtMs });
          log(`fault applied at ${tl.appliedAtMs} ms: ${describeFault(fault)}`);
          await handle.apply();
          tl.activeAtMs = clock();
        })();
        pendingApplies.add(run);
        run.then(
          () => {
            pendingApplies.delete(run);
            if (stopping) return;
            at(fault.atMs + fault.forMs, () => {
              if (stopping) return;
              const undoing = undo(i, "window-end");
              pendingUndos.add(undoing);
              void undoing.then(() => {
                pendingUndos.delete(undoing);
                oneDone();
              });
            });
          },
          (error: unknown) => {
            pendingApplies.delete(run);
            tl.error = `apply failed: ${(error as Error).message}`;
            applyError ??= { fault, error };
            void stopAll("error");
          },
        );
      });
    }
  }

  await finished;
  options.signal?.removeEventListener("abort", onAbort);
  if (applyError) {
    const why = applyError.error instanceof LabgateError ? applyError.error : undefined;
    throw new FaultFailedError(
      `Could not ${describeFault(applyError.fault)}: ${(applyError.error as Error).message}`,
      `Every other fault was undone. ${why?.hint ?? "Check the backend named above, then run the bench again."}`,
      {
        fault: applyError.fault.text,
        ...(why ? { reason: why.code } : {}),
        undoErrors: undoErrors.map((u) => u.fault.text),
      },
      applyError.error,
    );
  }
  if (undoErrors.length > 0) {
    throw new FaultFailedError(
      `Could not undo ${undoErrors.map((u) => `'${u.fault.text}' (${(u.error as Error).message})`).join(", ")}: ` +
        `${undoErrors.map((u) => u.fault.target).join(", ")} may still be faulted.`,
      "Bring the backend back by hand (`labgate lab up` restarts a stopped app; `set server <be>/<srv> state ready` on the stats socket ends a drain), then check `labgate lab status`.",
      { faults: undoErrors.map((u) => u.fault.text) },
      undoErrors[0]?.error,
    );
  }
  return { timelines, interrupted };
}
