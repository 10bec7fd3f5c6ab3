import { isMainThread } from "node:worker_threads";
import { ExitCode } from "@labgate/core/exit-codes";
import { describe, expect, it } from "vitest";
import {
  codeTableProblems,
  constructionProblems,
  errorClassesIn,
} from "../../core/src/test-support/error-codes.js";
import { repairAutocannonClient } from "./autocannon-client-repair.js";
import * as errors from "./errors.js";
import { mergeRounds } from "./rounds.js";

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
    expect(new errors.BenchSetupError("BENCH_WORKER_ONLY", "w", "h").exitCode).toBe(ExitCode.PRECONDITION);
  });
});

describe("bench's own setup failures carry codes from its errors module", () => {
  it("mergeRounds without a result: BENCH_ROUNDS_EMPTY (exit 2), saying what to pass", () => {
    expect(() => mergeRounds([])).toThrow(
      expect.objectContaining({
        code: "BENCH_ROUNDS_EMPTY",
        exitCode: ExitCode.INVALID_INPUT,
        hint: expect.stringContaining("--repeat"),
      }),
    );
  });

  it("an autocannon client that is not autocannon 9's: BENCH_AUTOCANNON_UNSUPPORTED (exit 4)", () => {
    expect(() => repairAutocannonClient({ on() {} } as never, { onLost() {} })).toThrow(
      expect.objectContaining({
        code: "BENCH_AUTOCANNON_UNSUPPORTED",
        exitCode: ExitCode.PRECONDITION,
        hint: expect.stringContaining("autocannon@9"),
      }),
    );
  });

  it.skipIf(!isMainThread)(
    "the engine's worker module loaded outside a worker thread: BENCH_WORKER_ONLY (exit 4)",
    async () => {
      await expect(import("./engine-worker.js")).rejects.toMatchObject({
        code: "BENCH_WORKER_ONLY",
        exitCode: ExitCode.PRECONDITION,
        name: "BenchSetupError",
      });
    },
  );
});
