import { ExitCode, LabgateError, type LabgateErrorOptions } from "@labgate/core";

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
