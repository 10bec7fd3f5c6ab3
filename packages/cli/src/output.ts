import { redact, redactValue } from "@labgate/core/redact";

/**
 * Data goes to stdout, words for people to stderr. With --json, stdout carries exactly one JSON
 * document so it can be piped into jq; without it, stdout carries the human rendering of the data.
 */
export interface Output {
  readonly json: boolean;
  /** The command's result: JSON on stdout with --json, otherwise `human(data)` on stdout. */
  result<T>(data: T, human: (data: T) => string): void;
  /** Progress and explanations for people, always on stderr, never in the JSON stream. */
  info(message: string): void;
  warn(message: string): void;
}

export interface OutputStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
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
      streams.stderr.write(`${redact(message)}\n`);
    },
    warn(message) {
      streams.stderr.write(`warning: ${redact(message)}\n`);
    },
  };
}
