import {
  type CodeTable,
  codeTable,
  LabgateError,
  type LabgateErrorOptions,
  PreconditionError,
} from "../../errors.js";
import { ExitCode } from "../../exit-codes.js";

type Options = Omit<LabgateErrorOptions, "exitCode">;

/** The LXD socket is missing, refuses connections or may not be opened by this user. */
export class LxdUnreachableError extends PreconditionError<"LXD_UNREACHABLE"> {
  static override readonly codes: CodeTable = codeTable(["LXD_UNREACHABLE"], ExitCode.PRECONDITION);
  readonly socketPaths: string[];
  constructor(message: string, socketPaths: string[], options: Options = {}) {
    super("LXD_UNREACHABLE", message, { ...options, details: { socketPaths, ...options.details } });
    this.socketPaths = socketPaths;
  }
}

/** LXD answered 404: the instance, network, image, alias or pool does not exist. */
export class LxdNotFoundError extends LabgateError<"LXD_NOT_FOUND"> {
  static override readonly codes: CodeTable = codeTable(["LXD_NOT_FOUND"], ExitCode.EXTERNAL);
  readonly resource: string;
  constructor(resource: string, message: string, options: Options = {}) {
    super("LXD_NOT_FOUND", message, {
      ...options,
      exitCode: ExitCode.EXTERNAL,
      details: { resource, ...options.details },
    });
    this.resource = resource;
  }
}

/** LXD rejected a request (400 bad config, 409 conflict, 500 ...): its own message is kept verbatim. */
export class LxdApiError extends LabgateError<"LXD_API_ERROR"> {
  static override readonly codes: CodeTable = codeTable(["LXD_API_ERROR"], ExitCode.EXTERNAL);
  readonly status: number;
  constructor(status: number, message: string, options: Options = {}) {
    super("LXD_API_ERROR", message, {
      ...options,
      exitCode: ExitCode.EXTERNAL,
      details: { status, ...options.details },
    });
    this.status = status;
  }
}

/** A background operation (create, start, exec, image import) ended in Failure or Cancelled. */
export class LxdOperationFailedError extends LabgateError<"LXD_OPERATION_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["LXD_OPERATION_FAILED"], ExitCode.EXTERNAL);
  constructor(message: string, options: Options = {}) {
    super("LXD_OPERATION_FAILED", message, { ...options, exitCode: ExitCode.EXTERNAL });
  }
}

/** An operation or a state change did not finish before its deadline. */
export class LxdTimeoutError extends LabgateError<"LXD_TIMEOUT"> {
  static override readonly codes: CodeTable = codeTable(["LXD_TIMEOUT"], ExitCode.TIMEOUT);
  constructor(message: string, options: Options = {}) {
    super("LXD_TIMEOUT", message, { ...options, exitCode: ExitCode.TIMEOUT });
  }
}
