// Worker-thread entry of the labgate engine (net or undici client): runs one share of the load and reports to the parent.
import { parentPort, workerData } from "node:worker_threads";
import { Engine, type EngineClient } from "./engine-core.js";
import { loadClient } from "./engine-create.js";
import type { EngineThreadMessage, EngineThreadStart, ParentMessage } from "./engine-protocol.js";
import { BenchSetupError } from "./errors.js";
import { Recorder } from "./recorder.js";
import { startThreadStats } from "./thread-stats.js";

const port = parentPort;
if (!port)
  throw new BenchSetupError(
    "BENCH_WORKER_ONLY",
    "engine-worker.js was loaded outside a worker thread: it runs one share of a bench's load, started by the labgate engine.",
    "Run the load through runBench (or `labgate bench run`), which starts its worker threads; do not import engine-worker.js.",
  );
const send = (message: EngineThreadMessage) => port.postMessage(message);
const controller = new AbortController();

port.on("message", (message: ParentMessage) => {
  if (message.type === "go") void run(message.start);
  else if (message.type === "abort") controller.abort();
});
const { index, client } = workerData as { index: number; client: EngineClient };
// The client's code loads before "ready": the parent starts the run's clock once every thread is ready.
const slotsFor = await loadClient(client);
send({ type: "ready", timeOrigin: performance.timeOrigin, index });

async function run(start: EngineThreadStart): Promise<void> {
  // The parent's clock in this thread's terms: both count from their own time origin.
  const shift = start.parentTimeOrigin - performance.timeOrigin;
  const spec = {
    ...start.spec,
    runStartMs: start.spec.runStartMs + shift,
    warmupEndMs: start.spec.warmupEndMs + shift,
    endMs: start.spec.endMs + shift,
  };
  const recorder = new Recorder({
    runStartMs: spec.runStartMs,
    warmupEndMs: spec.warmupEndMs,
    separateServiceTime: spec.rate !== null,
    onBucket: (bucket) => send({ type: "bucket", bucket }),
  });
  const stats = startThreadStats();
  const ticker = setInterval(() => recorder.advance(performance.now()), 250);
  let outcome = { aborted: false };
  let error: string | undefined;
  try {
    outcome = await new Engine(spec, recorder, slotsFor(spec)).run(controller.signal);
  } catch (e) {
    error = (e as Error)?.stack ?? String(e);
  } finally {
    clearInterval(ticker);
  }
  recorder.advance(performance.now());
  recorder.flushRemaining();
  send({
    type: "done",
    aborted: outcome.aborted,
    totals: recorder.totals(),
    stats: stats.stop(),
    ...(error ? { error } : {}),
  });
}
