import { availableParallelism } from "node:os";
import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { BenchOptionError } from "./errors.js";
import { defaultWorkers, resolveOptions } from "./options.js";

const url = "http://127.0.0.1:1/";
const rejection = (input: Parameters<typeof resolveOptions>[0]): BenchOptionError => {
  try {
    resolveOptions(input);
  } catch (error) {
    return error as BenchOptionError;
  }
  throw new Error("expected a rejection");
};

describe("--engine and --workers", () => {
  it("defaults to the net engine with workers chosen per mode, never more than the connections", () => {
    const closed = resolveOptions({ url });
    expect(closed.engine).toBe("net");
    expect(closed.workers).toBe(Math.min(10, defaultWorkers("closed-loop", null)));
    expect(resolveOptions({ url, connections: 1 }).workers).toBe(1);
    // Half the cores, at least one; constant rate adds a thread per 20k req/s only.
    expect(defaultWorkers("closed-loop", null)).toBe(
      Math.max(1, Math.min(8, Math.floor(availableParallelism() / 2))),
    );
    expect(defaultWorkers("constant-rate", 500)).toBe(1);
    expect(resolveOptions({ url, workers: 3, connections: 6 }).workers).toBe(3);
    expect(resolveOptions({ url, engine: "autocannon" })).toMatchObject({ engine: "autocannon", workers: 1 });
  });

  it("refuses an unknown engine, a bad worker count, more workers than connections, and workers with autocannon", () => {
    for (const [input, message] of [
      [{ url, engine: "wrk" as never }, /--engine "wrk" is not a load engine/],
      [{ url, workers: 0 }, /--workers 0 is not a whole number between 1 and 64/],
      [{ url, workers: 1.5 }, /--workers 1.5/],
      [{ url, workers: 4, connections: 2 }, /--workers 4 is more than the 2 connection/],
      [
        { url, workers: 2, engine: "autocannon" as const },
        /with --engine autocannon, which runs on one thread/,
      ],
    ] as const) {
      const error = rejection(input);
      expect(error).toBeInstanceOf(BenchOptionError);
      expect(error.message).toMatch(message);
      expect(error.hint).toBeTruthy();
      expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
    }
  });
});
