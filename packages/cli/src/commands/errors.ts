import * as bench from "@labgate/bench";
import * as core from "@labgate/core";
import { EXIT_CODE_MEANINGS, ExitCode, errorClassesIn, type LabgateErrorClass } from "@labgate/core";
import * as lab from "@labgate/lxd-lab";
import type { Command } from "commander";
import { createOutput, type OutputStreams } from "../output.js";

export interface ErrorCodeEntry {
  code: string;
  /** The class that carries it: what `--json` error output calls `error`. */
  error: string;
  package: string;
}

export interface ExitCodeEntry {
  exitCode: number;
  name: keyof typeof ExitCode;
  meaning: string;
  codes: ErrorCodeEntry[];
}

/** The two codes the CLI writes itself (main.ts), for errors that are no labgate error class. */
const CLI_CODES: (ErrorCodeEntry & { exitCode: number })[] = [
  { code: "USAGE", error: "UsageError", package: "@labgate/cli", exitCode: ExitCode.INVALID_INPUT },
  { code: "INTERNAL", error: "InternalError", package: "@labgate/cli", exitCode: ExitCode.EXTERNAL },
];

/** Each package's error classes (a class re-exported by another package counts once, for its own). */
function classesByPackage(): [string, LabgateErrorClass[]][] {
  const coreClasses = errorClassesIn(core);
  const own = (module: Record<string, unknown>) =>
    errorClassesIn(module).filter((c) => !coreClasses.includes(c));
  return [
    ["@labgate/core", coreClasses],
    ["@labgate/lxd-lab", own(lab)],
    ["@labgate/bench", own(bench)],
  ];
}

/** Every error code labgate can end with, grouped by exit code: read from the classes' own code tables. */
export function errorCodeListing(): ExitCodeEntry[] {
  const entries = (Object.keys(ExitCode) as (keyof typeof ExitCode)[])
    .map((name) => ({ exitCode: ExitCode[name], name, meaning: EXIT_CODE_MEANINGS[name], codes: [] }))
    .sort((a, b) => a.exitCode - b.exitCode) as ExitCodeEntry[];
  const byExit = new Map(entries.map((e) => [e.exitCode, e]));
  const add = (exitCode: number, entry: ErrorCodeEntry) => byExit.get(exitCode)?.codes.push(entry);
  for (const [pkg, classes] of classesByPackage())
    for (const c of classes)
      for (const [code, exitCode] of Object.entries(c.codes))
        add(exitCode, { code, error: c.name, package: pkg });
  for (const { exitCode, ...entry } of CLI_CODES) add(exitCode, entry);
  for (const e of entries)
    e.codes.sort((a, b) => a.code.localeCompare(b.code) || a.error.localeCompare(b.error));
  return entries;
}

function formatListing(entries: ExitCodeEntry[]): string {
  const width = Math.max(...entries.flatMap((e) => e.codes.map((c) => c.code.length)));
  return entries
    .map((e) =>
      [
        `exit ${e.exitCode} (${e.name}): ${e.meaning}`,
        ...e.codes.map((c) => `  ${c.code.padEnd(width)}  ${c.error} (${c.package})`),
      ].join("\n"),
    )
    .join("\n\n");
}

/** `labgate errors`: every error code, by the exit code it ends with, so scripts can match on either. */
export function registerErrorsCommand(program: Command): void {
  program
    .command("errors")
    .description(
      "List every error code labgate can end with, grouped by exit code, with the error class and package\n" +
        "that carries it (the `code` and `error` of --json error output). Read from the classes' code tables.",
    )
    .option("--json", "one JSON document: [{ exitCode, name, meaning, codes: [{ code, error, package }] }]")
    .action((flags: { json?: boolean }) => {
      process.exitCode = errorsCommand(flags);
    });
}

export function errorsCommand(flags: { json?: boolean }, streams: OutputStreams = process): number {
  createOutput(flags.json === true, streams).result(errorCodeListing(), formatListing);
  return ExitCode.OK;
}
