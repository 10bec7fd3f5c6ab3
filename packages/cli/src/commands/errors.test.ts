import { ExitCode, LxdTimeoutError, StateError } from "@labgate/core";
import { NotConfirmedError } from "@labgate/lxd-lab";
import { describe, expect, it } from "vitest";
import { runCliInProcess } from "../test-support/in-process-cli.js";
import type { ExitCodeEntry } from "./errors.js";

describe("labgate errors", () => {
  it("--json lists every exit code with the codes that end with it, read from the classes' tables", async () => {
    const run = await runCliInProcess(["errors", "--json"]);
    expect(run.code).toBe(ExitCode.OK);
    const listing = JSON.parse(run.stdout) as ExitCodeEntry[];
    expect(listing.map((e) => e.exitCode)).toEqual(Object.values(ExitCode).sort((a, b) => a - b));
    const codesOf = (exit: number) => listing.find((e) => e.exitCode === exit)?.codes ?? [];
    for (const [exit, code, error, pkg] of [
      [ExitCode.STATE, "LEDGER_LOCKED", "StateError", "@labgate/core"],
      [ExitCode.TIMEOUT, "LXD_TIMEOUT", "LxdTimeoutError", "@labgate/core"],
      [ExitCode.NOT_CONFIRMED, "DECLINED", "NotConfirmedError", "@labgate/lxd-lab"],
      [ExitCode.PRECONDITION, "BENCH_AUTOCANNON_UNSUPPORTED", "BenchSetupError", "@labgate/bench"],
      [ExitCode.INVALID_INPUT, "USAGE", "UsageError", "@labgate/cli"],
    ] as const) {
      expect(codesOf(exit)).toContainEqual({ code, error, package: pkg });
    }
    // Each listed pair is what that class really exits with.
    expect(new StateError("LEDGER_LOCKED", "locked").exitCode).toBe(ExitCode.STATE);
    expect(new LxdTimeoutError("late").exitCode).toBe(ExitCode.TIMEOUT);
    expect(new NotConfirmedError("DECLINED", "no", "run again").exitCode).toBe(ExitCode.NOT_CONFIRMED);
    const all = listing.flatMap((e) => e.codes.map((c) => `${c.code} ${c.error}`));
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThan(200);
  });

  it("prints the same listing for people, one exit code after the other", async () => {
    const run = await runCliInProcess(["errors"]);
    expect(run.code).toBe(ExitCode.OK);
    expect(run.stdout).toMatch(/^exit 0 \(OK\): done; every check and SLO passed\n/);
    expect(run.stdout).toMatch(
      /^exit 3 \(STATE\): .*\n(?: {2}\S+ +\S+ \(@labgate\/\S+\)\n)*? {2}LEDGER_LOCKED +StateError \(@labgate\/core\)$/m,
    );
    expect(run.stdout).toMatch(/^exit 130 \(INTERRUPTED\): interrupted \(Ctrl-C\)/m);
  });
});
