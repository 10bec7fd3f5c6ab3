import { isLabgateError } from "@labgate/core/errors";
import { ExitCode } from "@labgate/core/exit-codes";
import { redact } from "@labgate/core/redact";
import { CommanderError } from "commander";
import { createProgram } from "./program.js";

/** Runs the CLI and returns the exit code; never calls process.exit so callers (and tests) keep control. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await createProgram(argv);
  const wantsJson = argv.includes("--json");
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.OK;
  } catch (error) {
    return reportError(error, wantsJson);
  }
}

export function reportError(error: unknown, json: boolean): number {
  if (error instanceof CommanderError) {
    // Help and version are successful exits; everything else from commander is a usage error.
    if (
      error.code === "commander.helpDisplayed" ||
      error.code === "commander.version" ||
      error.code === "commander.help"
    ) {
      return ExitCode.OK;
    }
    if (json)
      process.stdout.write(
        `${JSON.stringify({ error: "UsageError", code: "USAGE", message: error.message })}\n`,
      );
    return ExitCode.INVALID_INPUT;
  }
  if (isLabgateError(error)) {
    process.stderr.write(`error [${error.code}]: ${redact(error.message)}\n`);
    if (error.hint) process.stderr.write(`  what to do: ${redact(error.hint)}\n`);
    if (json) process.stdout.write(`${redact(JSON.stringify(error.toJSON(), null, 2))}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(
    `internal error: ${redact(message)}\n  This is a labgate bug; please report it with the command you ran.\n`,
  );
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: "InternalError", code: "INTERNAL", message: redact(String(error)) })}\n`,
    );
  return ExitCode.EXTERNAL;
}
