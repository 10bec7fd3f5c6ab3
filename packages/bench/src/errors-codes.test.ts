import { ExitCode } from "@labgate/core/exit-codes";
import { describe, expect, it } from "vitest";
import {
  codeTableProblems,
  constructionProblems,
  errorClassesIn,
} from "../../core/src/test-support/error-codes.js";
import * as errors from "./errors.js";

const classes = errorClassesIn(errors);

describe("bench error codes", () => {
  it("finds every class of the errors module", () => {
    expect(classes.map((c) => c.name).sort()).toEqual(Object.keys(errors).sort());
  });

  it("each class owns its codes: declared once in the package, each with one ExitCode", () => {
    expect(codeTableProblems(classes)).toEqual([]);
  });

  it("every class, built with its code, exits with the code's exit code", () => {
    expect(constructionProblems(classes)).toEqual([]);
    expect(new errors.SloSyntaxError("p99<", "no value").exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(new errors.BenchEngineError("worker died").exitCode).toBe(ExitCode.EXTERNAL);
  });
});
