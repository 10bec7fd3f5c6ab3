import { Command } from "commander";
import { registerBenchCommands } from "./commands/bench.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerDeployCommands } from "./commands/deploy.js";
import { registerImageCommands } from "./commands/image.js";
import { registerIpCommands } from "./commands/ip.js";
import { registerLabCommands } from "./commands/lab.js";
import { registerSimCommands } from "./commands/sim.js";

/**
 * The `labgate` command tree. Each command group lives in its own file under commands/ and
 * registers itself here.
 */
export function createProgram(): Command {
  const program = new Command("labgate")
    .description("Build small test labs step by step and measure them against SLOs.")
    .version("0.1.0")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  // Command groups (one line each, kept sorted):
  registerBenchCommands(program);
  registerDeployCommands(program);
  registerDemoCommand(program);
  registerImageCommands(program);
  registerIpCommands(program);
  registerLabCommands(program);
  registerSimCommands(program);

  return program;
}
