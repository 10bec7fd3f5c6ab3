import type { LabIo } from "./lab-io.js";

export interface DemoInterrupts {
  /** Aborted by the first Ctrl-C: build, verify and benchmark stop after saving their state. */
  run: AbortSignal;
  /** Aborted by a Ctrl-C once teardown has started (teardown runs even after the first one). */
  teardown: AbortSignal;
  /** From now on a Ctrl-C stops the teardown. */
  tearingDown(): void;
  dispose(): void;
}

const STOPPING =
  "\nCtrl-C: stopping after the current step saves its state (Ctrl-C again to exit at once)...\n";

/**
 * Ctrl-C for the demo, in two stages like `withInterrupt` for each of them: a Ctrl-C stops the current
 * stage and lets it save its state, a second one in the same stage exits at once. With `io.signal`
 * (tests, embedding) that signal stops the run and nothing stops the teardown.
 */
export function demoInterrupts(io: LabIo): DemoInterrupts {
  const run = new AbortController();
  const teardown = new AbortController();
  if (io.signal) {
    return { run: io.signal, teardown: teardown.signal, tearingDown() {}, dispose() {} };
  }
  let stage = run;
  const onSigint = () => {
    if (stage.signal.aborted) {
      io.stderr.write("\nSecond Ctrl-C: exiting now; run `labgate lab status` to see what is left.\n");
      process.exit(130);
    }
    io.stderr.write(STOPPING);
    stage.abort();
  };
  process.on("SIGINT", onSigint);
  return {
    run: run.signal,
    teardown: teardown.signal,
    tearingDown() {
      stage = teardown;
    },
    dispose() {
      process.removeListener("SIGINT", onSigint);
    },
  };
}
