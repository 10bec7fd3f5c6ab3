import { redact, redactValue } from "@labgate/core/redact";

/**
 * Data goes to stdout, words for people to stderr. With --json, stdout carries exactly one JSON
 * document so it can be piped into jq; without it, stdout carries the human rendering of the data.
 */
export interface Output {
  readonly json: boolean;
  /** The command's result: JSON on stdout with --json, otherwise `human(data)` on stdout. */
  result<T>(data: T, human: (data: T) => string): void;
  /** Progress and explanations for people, always on stderr, never in the JSON stream; none with --quiet. */
  info(message: string): void;
  /** Something the user should know even with --quiet (a deprecated flag, an override). */
  warn(message: string): void;
  /** Diagnostics only --verbose asks for (e.g. which files a command used); on stderr. */
  verbose(message: string): void;
}

export interface OutputStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The global --quiet, --verbose and --no-color (or NO_COLOR), set once per run by the root program. */
export interface OutputMode {
  quiet: boolean;
  verbose: boolean;
  color: boolean;
}

let mode: OutputMode = defaultOutputMode();

/** Colour unless NO_COLOR is set to anything non-empty (https://no-color.org). */
export function defaultOutputMode(env: NodeJS.ProcessEnv = process.env): OutputMode {
  return { quiet: false, verbose: false, color: !env.NO_COLOR };
}

export function setOutputMode(next: OutputMode): void {
  mode = { ...next };
}

export function outputMode(): Readonly<OutputMode> {
  return mode;
}

export function createOutput(json: boolean, streams: OutputStreams = process): Output {
  return {
    json,
    result(data, human) {
      if (json) streams.stdout.write(`${JSON.stringify(redactValue(data), null, 2)}\n`);
      else {
        const text = human(data);
        if (text) streams.stdout.write(`${redact(text)}${text.endsWith("\n") ? "" : "\n"}`);
      }
    },
    info(message) {
      if (!mode.quiet) streams.stderr.write(`${redact(message)}\n`);
    },
    warn(message) {
      streams.stderr.write(`warning: ${redact(message)}\n`);
    },
    verbose(message) {
      if (mode.verbose && !mode.quiet) streams.stderr.write(`${redact(message)}\n`);
    },
  };
}
