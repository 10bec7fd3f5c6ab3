import { commandWords, displayCommandLine, type RunOptions } from "@labgate/core";

/** A host command as the user would type it on the host (for Step.commands; no I/O). */
export function show(command: string, args: readonly string[], options: RunOptions = {}): string {
  return displayCommandLine(commandWords(command, args, options), options.cwd);
}
