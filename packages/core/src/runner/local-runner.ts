import { execa } from "execa";
import { CommandFailedError, CommandNotFoundError, RunnerTimeoutError } from "../errors.js";
import { redact } from "../util/redact.js";
import { commandWords, displayCommandLine, tail } from "./shell-quote.js";
import type { Runner, RunOptions, RunResult } from "./types.js";

export interface LocalRunnerOptions {
  /**
   * Whether `sudo: true` really calls sudo. Default: only when not already root, so the same steps work
   * as root in CI and as a user with sudo rights.
   */
  useSudo?: boolean;
}

/** Runs commands on this machine through execa with argument arrays; no shell is ever involved. */
export class LocalRunner implements Runner {
  readonly target = "local";
  readonly #useSudo: boolean;

  constructor(options: LocalRunnerOptions = {}) {
    this.#useSudo = options.useSudo ?? process.getuid?.() !== 0;
  }

  #words(command: string, args: readonly string[], options: RunOptions): string[] {
    const asOtherUser = options.sudoUser !== undefined && options.sudoUser !== "root";
    const sudo = asOtherUser || (options.sudo === true && this.#useSudo);
    // env is passed through execa's env option locally, unless sudo would reset it.
    return commandWords(command, args, {
      sudo,
      sudoUser: asOtherUser ? options.sudoUser : undefined,
      env: sudo ? options.env : undefined,
    });
  }

  describe(command: string, args: readonly string[], options: RunOptions = {}): string {
    const words = this.#words(command, args, options);
    const envPrefix =
      !words.includes("env") && options.env
        ? Object.entries(options.env).map(([k, v]) => displayCommandLine([`${k}=${v}`]))
        : [];
    const line = [...envPrefix, displayCommandLine(words)].join(" ");
    return redact(options.cwd === undefined ? line : `(cd ${displayCommandLine([options.cwd])} && ${line})`);
  }

  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const [file, ...rest] = this.#words(command, args, options);
    const display = this.describe(command, args, options);
    const started = performance.now();
    const result = await execa(file as string, rest, {
      reject: false,
      stripFinalNewline: false,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env && file !== "sudo" ? { env: options.env } : {}),
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      ...(options.signal ? { cancelSignal: options.signal } : {}),
      input: options.input ?? "",
    });
    const durationMs = Math.round(performance.now() - started);
    const stdout = redact(String(result.stdout ?? ""));
    const stderr = redact(String(result.stderr ?? ""));
    if (result.timedOut) {
      throw new RunnerTimeoutError(
        "RUNNER_TIMEOUT",
        `\`${display}\` did not finish within ${options.timeoutMs} ms and was killed.`,
        {
          hint: "Raise the timeout if the command is just slow, or check what it waits for.",
          details: { command: display, timeoutMs: options.timeoutMs, stderrTail: tail(stderr) },
        },
      );
    }
    if (result.isCanceled) {
      throw new RunnerTimeoutError("RUNNER_ABORTED", `\`${display}\` was interrupted.`, {
        hint: "Run the step again to continue.",
        details: { command: display },
      });
    }
    const code = (result as { code?: string }).code;
    if (code === "ENOENT" || (result.exitCode === undefined && /ENOENT/.test(String(result.message ?? "")))) {
      throw new CommandNotFoundError("COMMAND_NOT_FOUND", `\`${file}\` is not installed or not on PATH.`, {
        hint: `Install the package that provides ${file}, then retry.`,
        details: { command: display },
      });
    }
    const exitCode = result.exitCode ?? 128;
    if (exitCode !== 0 && !options.allowFailure) {
      throw new CommandFailedError(display, exitCode, tail(stderr), this.target);
    }
    return { stdout, stderr, exitCode, command: display, durationMs };
  }

  async close(): Promise<void> {}
}
