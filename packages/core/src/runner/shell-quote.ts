import { InvalidInputError } from "../errors.js";
import type { RunOptions } from "./types.js";

/** POSIX single-quote escaping: safe for every byte sequence, including newlines, `$()`, backticks and `;`. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes only when needed: for display, so `usermod -aG lxd oneadmin` reads as typed. */
export function displayQuote(arg: string): string {
  return PLAIN.test(arg) ? arg : shellQuote(arg);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USER_NAME = /^[a-z_][a-z0-9_.-]*\$?$/i;

/**
 * The words of a command after sudo and env wrapping: `[sudo -n [-u U] --] [env 'K=V' ...] cmd args...`.
 * `sudoFlags` is `-n` normally and `-S -p ''` when a password is sent on stdin.
 */
export function commandWords(
  command: string,
  args: readonly string[],
  options: Pick<RunOptions, "sudo" | "sudoUser" | "env">,
  sudoFlags: readonly string[] = ["-n"],
): string[] {
  if (!command) throw new InvalidInputError("INVALID_COMMAND", "The command to run is empty.");
  const words: string[] = [];
  if (options.sudo || options.sudoUser) {
    words.push("sudo", ...sudoFlags);
    if (options.sudoUser) {
      if (!USER_NAME.test(options.sudoUser)) {
        throw new InvalidInputError(
          "INVALID_COMMAND",
          `"${options.sudoUser}" is not a valid user name for sudo -u.`,
        );
      }
      words.push("-u", options.sudoUser);
    }
    words.push("--");
  }
  const env = Object.entries(options.env ?? {});
  if (env.length > 0) {
    words.push("env");
    for (const [key, value] of env) {
      if (!ENV_NAME.test(key)) {
        throw new InvalidInputError(
          "INVALID_COMMAND",
          `Environment variable name "${key}" is not valid; use letters, digits and _ only.`,
        );
      }
      words.push(`${key}=${value}`);
    }
  }
  words.push(command, ...args);
  return words;
}

/** The one string sent over SSH: every word quoted; cwd as `cd -- 'dir' && exec ...` (no `;` fallthrough). */
export function remoteCommandLine(words: readonly string[], cwd?: string): string {
  const line = words.map(shellQuote).join(" ");
  return cwd === undefined ? line : `cd -- ${shellQuote(cwd)} && exec ${line}`;
}

/** The same for people: minimal quoting. */
export function displayCommandLine(words: readonly string[], cwd?: string): string {
  const line = words.map(displayQuote).join(" ");
  return cwd === undefined ? line : `cd -- ${displayQuote(cwd)} && exec ${line}`;
}

/** The last `lines` non-empty lines of `text`, for error messages. */
export function tail(text: string, lines = 10): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
