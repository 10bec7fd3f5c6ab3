import { ExitCode, type ExitCodeValue } from "./exit-codes.js";

export interface LabgateErrorOptions {
  /** What the user should do next; printed under the message. */
  hint?: string;
  cause?: unknown;
  exitCode?: ExitCodeValue;
  /** Structured facts for --json output (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * Base class of every labgate error. `code` is a stable string for scripts and tests,
 * `exitCode` is what the CLI exits with, `hint` is the actionable next step.
 */
export class LabgateError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: LabgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.EXTERNAL;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      error: this.name,
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Bad input from the user: flags, config files, specs, expressions. */
export class InvalidInputError extends LabgateError {
  constructor(code: string, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.INVALID_INPUT });
  }
}

/** A state file that cannot be trusted, or a lock that cannot be taken. */
export class StateError extends LabgateError {
  constructor(code: string, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.STATE });
  }
}

/** The machine lacks something the command needs (binary, daemon, free port). */
export class PreconditionError extends LabgateError {
  constructor(code: string, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.PRECONDITION });
  }
}

export function isLabgateError(error: unknown): error is LabgateError {
  return error instanceof LabgateError;
}
