// The light entry points, not the index: the bench loads these errors without the lab engine's weight.
import {
  type CodeOf,
  type CodeTable,
  codeTable,
  LabgateError,
  type LabgateErrorOptions,
} from "@labgate/core/errors";
import { ExitCode } from "@labgate/core/exit-codes";

/**
 * A lab step failed; says which step, what it ran, what it got and what to try next. STEP_FAILED is exit 5
 * unless the step failed for a reason with its own exit code (a missing tool: 4), passed as `exitCode`.
 */
export class StepFailedError extends LabgateError<"STEP_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["STEP_FAILED"], ExitCode.EXTERNAL);
  static override readonly exitCodeFromCause = true;
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
export class LabSpecError extends LabgateError<"LAB_SPEC_INVALID"> {
  static override readonly codes: CodeTable = codeTable(["LAB_SPEC_INVALID"], ExitCode.INVALID_INPUT);
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

const NOT_CONFIRMED_CODES = codeTable(["NOT_CONFIRMED", "DECLINED", "QUIT"], ExitCode.NOT_CONFIRMED);
export type NotConfirmedCode = CodeOf<typeof NOT_CONFIRMED_CODES>;

/** The user declined at a gate, quit, or no answer could be asked for (no TTY and no --yes). Exit 7. */
export class NotConfirmedError extends LabgateError<NotConfirmedCode> {
  static override readonly codes: CodeTable = NOT_CONFIRMED_CODES;
  constructor(code: NotConfirmedCode, message: string, hint: string, details?: Record<string, unknown>) {
    super(code, message, errorOptions(ExitCode.NOT_CONFIRMED, hint, details));
  }
}

/** Ctrl-C (SIGINT) stopped a lab run; progress up to here is saved. Exit 130. */
export class LabInterruptedError extends LabgateError<"INTERRUPTED"> {
  static override readonly codes: CodeTable = codeTable(["INTERRUPTED"], ExitCode.INTERRUPTED);
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("INTERRUPTED", message, errorOptions(ExitCode.INTERRUPTED, hint, details));
  }
}

/** `lab verify` ran and the lab did not pass. Exit 1. */
export class LabVerifyFailedError extends LabgateError<"LAB_VERIFY_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["LAB_VERIFY_FAILED"], ExitCode.CHECK_FAILED);
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("LAB_VERIFY_FAILED", message, errorOptions(ExitCode.CHECK_FAILED, hint, details));
  }
}

/** A rendered HAProxy config failed `haproxy -c`; carries haproxy's own output. Exit 5. */
export class HaproxyConfigError extends LabgateError<"HAPROXY_CONFIG_INVALID"> {
  static override readonly codes: CodeTable = codeTable(["HAPROXY_CONFIG_INVALID"], ExitCode.EXTERNAL);
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("HAPROXY_CONFIG_INVALID", message, errorOptions(ExitCode.EXTERNAL, hint, details, cause));
  }
}

/** A port the lab needs is held by something else; names the holder when it can. Exit 4. */
export class PortInUseError extends LabgateError<"PORT_IN_USE"> {
  static override readonly codes: CodeTable = codeTable(["PORT_IN_USE"], ExitCode.PRECONDITION);
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("PORT_IN_USE", message, errorOptions(ExitCode.PRECONDITION, hint, details));
  }
}

/** `labgate image build` failed (debootstrap, packing or the import); carries the tool's output. Exit 5. */
export class ImageBuildError extends LabgateError<"IMAGE_BUILD_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["IMAGE_BUILD_FAILED"], ExitCode.EXTERNAL);
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("IMAGE_BUILD_FAILED", message, errorOptions(ExitCode.EXTERNAL, hint, details, cause));
  }
}

/** The lab's final benchmark missed one of the spec's SLOs (or got no good answer at all). Exit 1. */
export class LabSlosNotMetError extends LabgateError<"LAB_SLOS_NOT_MET"> {
  static override readonly codes: CodeTable = codeTable(["LAB_SLOS_NOT_MET"], ExitCode.CHECK_FAILED);
  constructor(message: string, hint: string, details?: Record<string, unknown>) {
    super("LAB_SLOS_NOT_MET", message, errorOptions(ExitCode.CHECK_FAILED, hint, details));
  }
}

/** A fault could not be applied or undone; names the backend and what state it may be left in. Exit 5. */
export class FaultFailedError extends LabgateError<"FAULT_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["FAULT_FAILED"], ExitCode.EXTERNAL);
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("FAULT_FAILED", message, errorOptions(ExitCode.EXTERNAL, hint, details, cause));
  }
}

/**
 * One fault action (apply or undo) did not take effect. The fault runner reports it, with the fault's text,
 * inside FAULT_FAILED and keeps this as the cause; the code says what went wrong:
 * FAULT_TARGET_STATE (exit 4) the backend is not in a state the action applies to;
 * FAULT_NOT_OURS (exit 4) the link already has a netem qdisc labgate did not add;
 * FAULT_COMMAND_FAILED (exit 5) tc, the runtime API or the exec into the backend failed;
 * FAULT_NOT_IN_EFFECT (exit 5) the live state read back after the action is not what the action asked for;
 * FAULT_NOT_READY (exit 8) the backend runs again but its app did not answer before the deadline.
 */
const FAULT_ACTION_CODES = {
  FAULT_TARGET_STATE: ExitCode.PRECONDITION,
  FAULT_NOT_OURS: ExitCode.PRECONDITION,
  FAULT_COMMAND_FAILED: ExitCode.EXTERNAL,
  FAULT_NOT_IN_EFFECT: ExitCode.EXTERNAL,
  FAULT_NOT_READY: ExitCode.TIMEOUT,
} as const satisfies CodeTable;
export type FaultActionCode = CodeOf<typeof FAULT_ACTION_CODES>;

export class FaultActionError extends LabgateError<FaultActionCode> {
  static override readonly codes: CodeTable = FAULT_ACTION_CODES;
  constructor(
    code: FaultActionCode,
    message: string,
    hint: string,
    details?: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(code, message, errorOptions(FAULT_ACTION_CODES[code], hint, details, cause));
  }
}

/**
 * A deploy step found the deployment not as it must be after the step: DEPLOY_RECORD_INCOMPLETE (exit 3) the deploy
 * record does not name a complete node; DEPLOY_ADDRESS_NOT_HELD (exit 3) the ledger holds no address for the node
 * after its allocation; DEPLOY_NODE_MISSING (exit 5) the platform has no node the record names;
 * DEPLOY_NODE_NOT_RUNNING (exit 5) the platform says the node is not running.
 */
const DEPLOY_STEP_CODES = {
  DEPLOY_RECORD_INCOMPLETE: ExitCode.STATE,
  DEPLOY_ADDRESS_NOT_HELD: ExitCode.STATE,
  DEPLOY_NODE_MISSING: ExitCode.EXTERNAL,
  DEPLOY_NODE_NOT_RUNNING: ExitCode.EXTERNAL,
} as const satisfies CodeTable;
export type DeployStepCode = CodeOf<typeof DEPLOY_STEP_CODES>;

export class DeployStepError extends LabgateError<DeployStepCode> {
  static override readonly codes: CodeTable = DEPLOY_STEP_CODES;
  constructor(code: DeployStepCode, message: string, hint: string, details?: Record<string, unknown>) {
    super(code, message, errorOptions(DEPLOY_STEP_CODES[code], hint, details));
  }
}

/**
 * HAProxy's runtime API (the stats socket) could not be used: HAPROXY_RUNTIME_UNSAFE_COMMAND (exit 2) a
 * command with ';' or a newline (HAProxy would run it as two), HAPROXY_RUNTIME_UNREACHABLE (exit 5) the
 * socket could not be reached, HAPROXY_RUNTIME_TIMEOUT (exit 8) no answer in time, HAPROXY_RUNTIME_REFUSED
 * (exit 5) HAProxy answered with an error, HAPROXY_RUNTIME_BAD_ANSWER (exit 5) an answer labgate cannot read.
 */
const HAPROXY_RUNTIME_CODES = {
  HAPROXY_RUNTIME_UNSAFE_COMMAND: ExitCode.INVALID_INPUT,
  HAPROXY_RUNTIME_UNREACHABLE: ExitCode.EXTERNAL,
  HAPROXY_RUNTIME_TIMEOUT: ExitCode.TIMEOUT,
  HAPROXY_RUNTIME_REFUSED: ExitCode.EXTERNAL,
  HAPROXY_RUNTIME_BAD_ANSWER: ExitCode.EXTERNAL,
} as const satisfies CodeTable;
export type HaproxyRuntimeCode = CodeOf<typeof HAPROXY_RUNTIME_CODES>;

export class HaproxyRuntimeError extends LabgateError<HaproxyRuntimeCode> {
  static override readonly codes: CodeTable = HAPROXY_RUNTIME_CODES;
  constructor(
    code: HaproxyRuntimeCode,
    message: string,
    hint: string,
    details?: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(code, message, errorOptions(HAPROXY_RUNTIME_CODES[code], hint, details, cause));
  }
}

/** INTERNAL_ERROR: a labgate invariant broke; no user action causes it, so the hint asks for a report. Exit 5. */
export class LabInternalError extends LabgateError<"INTERNAL_ERROR"> {
  static override readonly codes: CodeTable = codeTable(["INTERNAL_ERROR"], ExitCode.EXTERNAL);
  constructor(message: string, details?: Record<string, unknown>) {
    super("INTERNAL_ERROR", message, {
      exitCode: ExitCode.EXTERNAL,
      hint: "This is a labgate bug, not something you did: please report it with the command you ran and this message.",
      ...(details ? { details } : {}),
    });
  }
}

/** TOOL_OUTPUT_UNREADABLE: a system tool (ip, tc ...) exited 0 but printed something labgate cannot read. Exit 5. */
export class ToolOutputError extends LabgateError<"TOOL_OUTPUT_UNREADABLE"> {
  static override readonly codes: CodeTable = codeTable(["TOOL_OUTPUT_UNREADABLE"], ExitCode.EXTERNAL);
  constructor(message: string, hint: string, details?: Record<string, unknown>, cause?: unknown) {
    super("TOOL_OUTPUT_UNREADABLE", message, errorOptions(ExitCode.EXTERNAL, hint, details, cause));
  }
}

/** The options of an error here: its exit code and hint; details and cause only when given. */
function errorOptions(
  exitCode: LabgateErrorOptions["exitCode"],
  hint: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): LabgateErrorOptions {
  return { exitCode, hint, ...(details ? { details } : {}), ...(cause === undefined ? {} : { cause }) };
}
