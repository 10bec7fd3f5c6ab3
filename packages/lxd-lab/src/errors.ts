// The light entry points, not the index: the bench loads these errors without the lab engine's weight.
import { LabgateError, type LabgateErrorOptions } from "@labgate/core/errors";
import { ExitCode } from "@labgate/core/exit-codes";

/** A lab step failed; says which step, what it ran, what it got and what to try next. */
export class StepFailedError extends LabgateError {
  readonly stepId: string;
  constructor(
    stepId: string,
    message: string,
    options: Omit<LabgateErrorOptions, "exitCode"> & { exitCode?: LabgateErrorOptions["exitCode"] } = {},
  ) {
    super("STEP_FAILED", message, { exitCode: ExitCode.EXTERNAL, ...options });
    this.stepId = stepId;
  }
}

/** lab.json / lab.yaml is unusable; names the file and the field. Exit 2. */
export class LabSpecError extends LabgateError {
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, message: string, hint?: string) {
    super("LAB_SPEC_INVALID", `${file}: ${field}: ${message}`, {
      exitCode: ExitCode.INVALID_INPUT,
      hint: hint ?? `Fix ${field} in ${file}.`,
      details: { file, field },
    });
    this.file = file;
    this.field = field;
  }
}

/** The user declined at a gate, quit, or no answer could be asked for (no TTY and no --yes). Exit 7. */
export class NotConfirmedError extends LabgateError {
  constructor(
    code: "NOT_CONFIRMED" | "DECLINED" | "QUIT",
    message: string,
    hint: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, { exitCode: ExitCode.NOT_CONFIRMED, hint, ...(details ? { details } : {}) });
  }
}

/** Ctrl-C (SIGINT) stopped a lab run; progress up to here is saved. Exit 130. */
export class LabInterruptedError extends LabgateError {
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("INTERRUPTED", message, { exitCode: ExitCode.INTERRUPTED, hint, ...(details ? { details } : {}) });
  }
}

/** `lab verify` ran and the lab did not pass. Exit 1. */
export class LabVerifyFailedError extends LabgateError {
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("LAB_VERIFY_FAILED", message, {
      exitCode: ExitCode.CHECK_FAILED,
      hint,
      ...(details ? { details } : {}),
    });
  }
}

/** A rendered HAProxy config failed `haproxy -c`; carries haproxy's own output. Exit 5. */
export class HaproxyConfigError extends LabgateError {
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("HAPROXY_CONFIG_INVALID", message, {
      exitCode: ExitCode.EXTERNAL,
      hint,
      ...(details ? { details } : {}),
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** A port the lab needs is held by something else; names the holder when it can. Exit 4. */
export class PortInUseError extends LabgateError {
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("PORT_IN_USE", message, { exitCode: ExitCode.PRECONDITION, hint, ...(details ? { details } : {}) });
  }
}

/** `labgate image build` failed (debootstrap, packing or the import); carries the tool's output. Exit 5. */
export class ImageBuildError extends LabgateError {
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("IMAGE_BUILD_FAILED", message, {
      exitCode: ExitCode.EXTERNAL,
      hint,
      ...(details ? { details } : {}),
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** The lab's final benchmark missed one of the spec's SLOs (or got no good answer at all). Exit 1. */
export class LabSlosNotMetError extends LabgateError {
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("LAB_SLOS_NOT_MET", message, {
      exitCode: ExitCode.CHECK_FAILED,
      hint,
      ...(details ? { details } : {}),
    });
  }
}

/** A fault could not be applied or undone; names the backend and what state it may be left in. Exit 5. */
export class FaultFailedError extends LabgateError {
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("FAULT_FAILED", message, {
      exitCode: ExitCode.EXTERNAL,
      hint,
      ...(details ? { details } : {}),
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
