import { BENCH_REQUEST, type DemoRun, runDemo } from "@labgate/lxd-lab";
import type { Command } from "commander";
import { createOutput } from "../output.js";
import { type DemoFlags, demoReportDir, withDemoBench } from "./demo-flags.js";
import { demoIntro, formatDemoResult, formatPhaseEvent, KEPT_NOTE } from "./demo-format.js";
import { demoInterrupts } from "./demo-interrupt.js";
import { removeEmptyParents } from "./lab.js";
import { type LabIo, makeGate, processIo, resolveLab } from "./lab-context.js";

export type { DemoFlags };

/** What the demo benchmarks: the lab's final bench step sends it (one sentiment prediction through the LB). */
export const DEMO_REQUEST = BENCH_REQUEST;

/** `labgate demo`: the main job in one command. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "The main job in one command: build the lab (default: local, two apps behind HAProxy), verify round robin, " +
        "run the lab's final bench step (POST /predict, one sentiment prediction per request, through the load balancer " +
        "against the spec's SLOs), copy its report out, then tear the lab down (also on failure or Ctrl-C).",
    )
    .option("-y, --yes", "answer yes at every confirmation gate of `lab up`")
    .option("--keep", "leave the lab up at the end (tear it down later with `labgate lab down`)")
    .option(
      "--spec <file>",
      "lab spec (JSON or YAML); default lab.json / lab.yaml here, else the built-in local lab",
    )
    .option("--state-dir <dir>", "where the lab's state lives (default .labgate/labs/<name>)")
    .option("-d, --duration <time>", "benchmark duration (default: the spec's bench.duration, else 5s)")
    .option("-c, --connections <n>", "benchmark connections (default: the spec's bench.connections, else 10)")
    .option("--out <dir>", "report directory (default .labgate/reports/<lab>-<time>)")
    .option("--json", "print the demo result as JSON on stdout")
    .action(async (flags: DemoFlags) => {
      process.exitCode = await demoCommand(flags);
    });
}

/** Flags in, the library's runDemo does the work, its result out (one JSON document with --json, also on failure). */
export async function demoCommand(flags: DemoFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const { provider, stateDir, spec: loaded } = await resolveLab(flags, io, false);
  const spec = withDemoBench(loaded, flags);
  const intro = demoIntro(spec, provider, flags.keep);
  const gate = makeGate(flags.yes, io);
  const interrupts = demoInterrupts(io);
  let run: DemoRun;
  try {
    run = await runDemo({
      provider,
      spec,
      stateDir,
      reportDir: demoReportDir(flags, io.cwd, spec.name),
      keep: flags.keep,
      gate,
      signal: interrupts.run,
      teardownSignal: interrupts.teardown,
      log: (line) => out.info(line),
      warn: (line) => out.warn(line),
      onPhase(event) {
        if (event.phase.id === "down" && event.at === "start") interrupts.tearingDown();
        const text = formatPhaseEvent(event, intro);
        if (text) out.info(text);
      },
    });
  } finally {
    interrupts.dispose();
    gate.close();
  }
  // The default state dir's parents go with it when empty (an explicit --state-dir is the user's).
  if (run.result.down?.stateRemoved && flags.stateDir === undefined) await removeEmptyParents(io.cwd);
  if (flags.keep) out.info(KEPT_NOTE);
  if (run.failure !== undefined && !flags.json) throw run.failure;
  out.result(run.result, formatDemoResult);
  if (run.failure !== undefined) out.info(`error: ${run.result.error?.message ?? "demo failed"}`);
  return run.exitCode;
}
