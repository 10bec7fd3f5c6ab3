import { Command, Option } from "commander";
import { defaultOutputMode, setOutputMode } from "./output.js";

type Register = (program: Command) => void;

/**
 * The command groups, each in its own file under commands/, loaded only when its command runs: a
 * file imports its libraries (the lab engine, the cloud SDK adapters, the bench) at the top, and
 * `labgate bench run` should not pay for `deploy`'s. The summary is what `labgate --help` shows.
 */
const GROUPS: Record<string, () => Promise<Register>> = {
  bench: async () => (await import("./commands/bench.js")).registerBenchCommands,
  demo: async () => (await import("./commands/demo.js")).registerDemoCommand,
  deploy: async () => (await import("./commands/deploy.js")).registerDeployCommands,
  errors: async () => (await import("./commands/errors.js")).registerErrorsCommand,
  image: async () => (await import("./commands/image.js")).registerImageCommands,
  ip: async () => (await import("./commands/ip.js")).registerIpCommands,
  lab: async () => (await import("./commands/lab.js")).registerLabCommands,
  schema: async () => (await import("./commands/schema.js")).registerSchemaCommand,
  sim: async () => (await import("./commands/sim.js")).registerSimCommands,
};

/** One line each in `labgate --help`; the group's own help (`labgate lab --help`) has the details. */
const SUMMARIES: Record<string, string> = {
  bench: "Measure an HTTP service's latency, throughput and jitter against SLOs (run, compare).",
  demo: "The main job in one command: build the default lab, verify it, bench it, tear it down.",
  deploy: "Deploy one VM from a spec onto a platform (check, plan, apply, destroy).",
  errors: "List every error code by the exit code it ends with (--json for scripts).",
  image: "Build labgate's offline LXD images (build).",
  ip: "Hand out and track static IPv4 addresses (allocate, release, list, reconcile ...).",
  lab: "Build, check and tear down a lab step by step (plan, up, status, verify, down).",
  schema: "Print the JSON Schema of a lab spec, deployment spec or IP pool config (lab, deploy, pool).",
  sim: "Run a platform simulator on loopback to try labgate without one (opennebula).",
};

export const VERSION = "0.1.0";

/** The first word that is not an option: the command group the user asked for, if any. */
function requestedGroup(argv: readonly string[]): string | undefined {
  const word = argv.slice(2).find((a) => !a.startsWith("-"));
  return word !== undefined && Object.hasOwn(GROUPS, word) ? word : undefined;
}

/**
 * The `labgate` command tree for these arguments (`process.argv` form). Only the group the
 * arguments name is loaded; with none (`labgate --help`, a typo) every group is, so help and
 * "unknown command" suggestions see them all; `--version` alone loads none.
 */
export async function createProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command("labgate")
    .description("Build small test labs step by step and measure them against SLOs.")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addOption(
      new Option("-q, --quiet", "only data on stdout and errors on stderr: no progress or info lines"),
    )
    .addOption(
      new Option(
        "-v, --verbose",
        "extra diagnostics on stderr where a command has them (e.g. the pool and ledger it used)",
      ).conflicts("quiet"),
    )
    .option("--no-color", "no colours or terminal control codes (also when NO_COLOR is set)");
  // Global flags may come before or after the command (`labgate --quiet ip list`, `labgate ip list -q`).
  setOutputMode(defaultOutputMode());
  program.hook("preAction", (_root, action) => {
    const flags = action.optsWithGlobals();
    const base = defaultOutputMode();
    setOutputMode({
      quiet: flags.quiet === true,
      verbose: flags.verbose === true,
      color: base.color && flags.color !== false,
    });
  });

  const args = argv.slice(2);
  const versionOnly = args.length === 1 && (args[0] === "--version" || args[0] === "-V");
  if (versionOnly) return program;
  const group = requestedGroup(argv);
  const names = group ? [group] : Object.keys(GROUPS).sort();
  const registers = await Promise.all(names.map((name) => GROUPS[name]!()));
  for (const register of registers) register(program);
  for (const command of program.commands) {
    const summary = SUMMARIES[command.name()];
    if (summary) command.summary(summary);
  }
  return program;
}
