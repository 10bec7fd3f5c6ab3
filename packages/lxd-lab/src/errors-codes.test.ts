import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import {
  codeTableProblems,
  constructionProblems,
  errorClassesIn,
} from "../../core/src/test-support/error-codes.js";
import * as errors from "./errors.js";
import { FaultActionError, HaproxyRuntimeError, NotConfirmedError, StepFailedError } from "./errors.js";

const classes = errorClassesIn(errors);

describe("lxd-lab error codes", () => {
  it("finds every class of the errors module", () => {
    expect(classes.map((c) => c.name).sort()).toEqual(
      Object.keys(errors)
        .filter((name) => name.endsWith("Error"))
        .sort(),
    );
  });

  it("each class owns its codes: declared once in the package, each with one ExitCode", () => {
    expect(codeTableProblems(classes)).toEqual([]);
  });

  it("every class, built with each of its codes, exits with the code's exit code", () => {
    expect(constructionProblems(classes)).toEqual([]);
  });

  it("the per-code exit codes are the documented ones", () => {
    expect(FaultActionError.codes).toMatchObject({
      FAULT_TARGET_STATE: ExitCode.PRECONDITION,
      FAULT_NOT_READY: ExitCode.TIMEOUT,
    });
    expect(HaproxyRuntimeError.codes).toMatchObject({
      HAPROXY_RUNTIME_UNSAFE_COMMAND: ExitCode.INVALID_INPUT,
    });
    expect(new NotConfirmedError("QUIT", "quit", "run it again").exitCode).toBe(ExitCode.NOT_CONFIRMED);
  });

  it("STEP_FAILED takes the exit code of why the step failed when given, else the table's", () => {
    expect(new StepFailedError("netns", "no root").exitCode).toBe(ExitCode.EXTERNAL);
    expect(new StepFailedError("netns", "no root", { exitCode: ExitCode.PRECONDITION }).exitCode).toBe(
      ExitCode.PRECONDITION,
    );
  });

  it("a code a class does not declare does not compile", () => {
    // @ts-expect-error QUIT is NotConfirmedError's, not FaultActionError's
    const wrong = new FaultActionError("QUIT", "m", "h");
    expect(wrong.code).toBe("QUIT");
  });
});
