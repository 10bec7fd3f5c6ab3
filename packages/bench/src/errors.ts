import { type CodeTable, codeTable, InvalidInputError, LabgateError } from "@labgate/core/errors";
import { ExitCode } from "@labgate/core/exit-codes";

/** A bench option (URL, duration, number) the user gave is not usable. Exit code 2. */
export class BenchOptionError extends InvalidInputError<"BENCH_OPTION_INVALID"> {
  static override readonly codes: CodeTable = codeTable(["BENCH_OPTION_INVALID"], ExitCode.INVALID_INPUT);
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("BENCH_OPTION_INVALID", message, {
      hint,
      ...(details ? { details } : {}),
      ...(cause !== undefined ? { cause } : {}),
    });
  }
}

/** An SLO expression or SLO file cannot be parsed. Exit code 2; the message names the expression. */
export class SloSyntaxError extends InvalidInputError<"BENCH_SLO_INVALID"> {
  static override readonly codes: CodeTable = codeTable(["BENCH_SLO_INVALID"], ExitCode.INVALID_INPUT);
  readonly expression: string;
  readonly problem: string;
  /** `source` names where the expression came from (an SLO file), so the message points there too. */
  constructor(
    expression: string,
    problem: string,
    options: { hint?: string; cause?: unknown; source?: string } = {},
  ) {
    const where = options.source ? ` in ${options.source}` : "";
    super("BENCH_SLO_INVALID", `Invalid SLO "${expression}"${where}: ${problem}`, {
      hint:
        options.hint ??
        'Write SLOs as <metric><op><value>, e.g. "p99<250ms", "rps>=500", "errors<1%", "jitter<5ms", "backend_share>=40%".',
      details: { expression, ...(options.source ? { source: options.source } : {}) },
      cause: options.cause,
    });
    this.expression = expression;
    this.problem = problem;
  }
}

/** A result.json given to `bench compare` (or an SLO file) cannot be read or is not a labgate result. Exit code 2. */
export class BenchFileError extends InvalidInputError<"BENCH_FILE_INVALID"> {
  static override readonly codes: CodeTable = codeTable(["BENCH_FILE_INVALID"], ExitCode.INVALID_INPUT);
  constructor(path: string, problem: string, options: { hint?: string; cause?: unknown } = {}) {
    super("BENCH_FILE_INVALID", `${path}: ${problem}`, {
      hint: options.hint ?? "Pass a result.json written by `labgate bench run --out DIR`.",
      details: { path },
      cause: options.cause,
    });
  }
}

/** Writing report files failed (permissions, full disk). */
export class BenchReportError extends LabgateError<"BENCH_REPORT_WRITE_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["BENCH_REPORT_WRITE_FAILED"], ExitCode.EXTERNAL);
  constructor(dir: string, cause: unknown) {
    super(
      "BENCH_REPORT_WRITE_FAILED",
      `Cannot write the bench reports to ${dir}: ${(cause as Error)?.message ?? cause}`,
      {
        hint: "Check that the directory is writable and the disk is not full; the measurement itself is unaffected.",
        cause,
      },
    );
  }
}

/** A load-generator thread failed to start or crashed; the run's numbers would be incomplete. */
export class BenchEngineError extends LabgateError<"BENCH_ENGINE_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["BENCH_ENGINE_FAILED"], ExitCode.EXTERNAL);
  constructor(problem: string, cause?: unknown) {
    super("BENCH_ENGINE_FAILED", `The load engine failed: ${problem}`, {
      hint: "Retry; if it keeps failing, run with --engine autocannon and report the error with this output.",
      ...(cause !== undefined ? { cause } : {}),
    });
  }
}

/**
 * The bench cannot run as it was set up: BENCH_WORKER_ONLY (exit 4) the engine's worker module was loaded
 * outside a worker thread; BENCH_AUTOCANNON_UNSUPPORTED (exit 4) the installed autocannon is not the
 * version whose client labgate repairs; BENCH_ROUNDS_EMPTY (exit 2) rounds were merged without a result.
 */
const BENCH_SETUP_CODES = {
  BENCH_WORKER_ONLY: ExitCode.PRECONDITION,
  BENCH_AUTOCANNON_UNSUPPORTED: ExitCode.PRECONDITION,
  BENCH_ROUNDS_EMPTY: ExitCode.INVALID_INPUT,
} as const satisfies CodeTable;
export type BenchSetupCode = keyof typeof BENCH_SETUP_CODES;

export class BenchSetupError extends LabgateError<BenchSetupCode> {
  static override readonly codes: CodeTable = BENCH_SETUP_CODES;
  constructor(code: BenchSetupCode, message: string, hint: string, details?: Record<string, unknown>) {
    super(code, message, { hint, ...(details ? { details } : {}) });
  }
}
