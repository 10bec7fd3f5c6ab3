import { displayCommandLine, type LxdClient } from "@labgate/core";
import { execa } from "execa";
import type { StepCall } from "../engine/plan-step.js";
import type { ImageBuildOptions } from "./image-build-options.js";

/**
 * A command an image step runs, as data: the argv execa gets and the line the plan shows are one
 * value, so what `--dry-run` prints is what runs.
 */
export interface CommandCall extends StepCall {
  kind: "command" | "probe";
  file: string;
  args: string[];
}

export function commandCall(
  file: string,
  args: string[],
  kind: "command" | "probe" = "command",
): CommandCall {
  return { kind, file, args, display: displayCommandLine([file, ...args]) };
}

/** A call that is not a command (file writes in the build dir, LXD REST requests), with the line it shows. */
export function otherCall(kind: "file" | "http", display: string): StepCall {
  return kind === "http" ? { kind, display, where: "lxd" } : { kind, display };
}

export interface CommandOutcome {
  exitCode: number;
  /** stdout and stderr interleaved, for error messages. */
  output: string;
}

/**
 * What image steps run with. Every side effect goes through `exec` or `perform` with a call taken
 * from the step's description, so a test can record them and compare with the plan.
 */
export interface ImageContext {
  readonly options: ImageBuildOptions;
  /** The LXD client, made on first use (only the import and alias steps talk to LXD). */
  lxd(): LxdClient;
  log(message: string): void;
  /** Aborted on Ctrl-C: a running command is killed. */
  readonly signal: AbortSignal;
  /** Runs a command from its argv (never through a shell line); the exit code is returned, not thrown. */
  exec(call: CommandCall): Promise<CommandOutcome>;
  /** Makes a call that is not a command; `action` is the code that makes it. */
  perform<T>(call: StepCall, action: () => Promise<T>): Promise<T>;
}

export function imageContext(
  options: ImageBuildOptions,
  lxd: () => LxdClient,
  log: (message: string) => void,
  signal: AbortSignal,
): ImageContext {
  return {
    options,
    lxd,
    log,
    signal,
    async exec(call) {
      const result = await execa(call.file, call.args, { reject: false, all: true, cancelSignal: signal });
      return { exitCode: result.exitCode ?? -1, output: result.all ?? "" };
    },
    perform: (_call, action) => action(),
  };
}
