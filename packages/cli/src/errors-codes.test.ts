import { readFileSync } from "node:fs";
import * as bench from "@labgate/bench";
import * as core from "@labgate/core";
import { EXIT_CODE_MEANINGS, ExitCode } from "@labgate/core";
import * as lab from "@labgate/lxd-lab";
import { describe, expect, it } from "vitest";
import { errorClassesIn, exitCodesByCode } from "../../core/src/test-support/error-codes.js";

const coreClasses = errorClassesIn(core);
const packages = {
  "@labgate/core": coreClasses,
  "@labgate/lxd-lab": errorClassesIn(lab).filter((c) => !coreClasses.includes(c)),
  "@labgate/bench": errorClassesIn(bench).filter((c) => !coreClasses.includes(c)),
};
const allClasses = Object.values(packages).flat();

/** The rows of README.md's "## Exit codes" table: [exit code, ExitCode name, meaning]. */
function readmeExitCodes(): [number, string, string][] {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const section = readme.split(/^## Exit codes$/m)[1]?.split(/^## /m)[0] ?? "";
  const rows = section.split("\n").filter((line) => /^\|\s*\d+\s*\|/.test(line));
  return rows.map((row) => {
    const [, code = "", name = "", meaning = ""] = row.split("|").map((cell) => cell.trim());
    return [Number(code), name, meaning];
  });
}

describe("error codes across packages", () => {
  it("every package exports error classes with code tables", () => {
    for (const [name, classes] of Object.entries(packages)) expect(classes.length, name).toBeGreaterThan(3);
  });

  it("a code used in two packages means the same exit code in both", () => {
    const ambiguous = [...exitCodesByCode(allClasses)].filter(([, exits]) => exits.size > 1);
    expect(ambiguous.map(([code, exits]) => `${code}: ${[...exits].join(", ")}`)).toEqual([]);
  });

  it("every exit code a code maps to is listed in README.md's exit-code table", () => {
    const listed = new Set(readmeExitCodes().map(([code]) => code));
    const used = new Set([...exitCodesByCode(allClasses).values()].flatMap((exits) => [...exits]));
    expect([...used].filter((exit) => !listed.has(exit))).toEqual([]);
  });
});

describe("README.md's exit-code table", () => {
  it("lists each ExitCode once, in order, by its number and name, and nothing else", () => {
    const rows = readmeExitCodes();
    const expected = Object.entries(ExitCode)
      .sort(([, a], [, b]) => a - b)
      .map(([name, code]) => [code, name]);
    expect(rows.map(([code, name]) => [code, name])).toEqual(expected);
  });

  it("says what each exit code means in exit-codes.ts's words", () => {
    for (const [code, name, meaning] of readmeExitCodes())
      expect(meaning, `exit ${code}`).toBe(EXIT_CODE_MEANINGS[name as keyof typeof ExitCode]);
  });
});
