import { Command } from "commander";

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

  return program;
}
