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
 * The brand every labgate error carries: the names of its class and of each labgate class above it.
 * `Symbol.for` is shared by every copy of @labgate/core in a process (two versions in node_modules, a
 * bundled CLI beside a library), so `instanceof` keeps working across copies, as undici's errors do.
 */
const kErrorBrands = Symbol.for("labgate.error.brands");

function brandsOf(errorClass: unknown): string[] {
  const names: string[] = [];
  for (let c = errorClass; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c))
    names.push((c as { name: string }).name);
  return names;
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
  declare readonly [kErrorBrands]: readonly string[];

  /** `x instanceof SomeLabgateError` by brand (see kErrorBrands), so it holds across package copies. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    const brands = (value as { [kErrorBrands]?: unknown } | null | undefined)?.[kErrorBrands];
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof (a subclass too).
    return Array.isArray(brands) && brands.includes(this.name);
  }

  constructor(code: string, message: string, options: LabgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, kErrorBrands, { value: Object.freeze(brandsOf(new.target)) });
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

/** A malformed IPv4 address or network: INVALID_ADDRESS, INVALID_CIDR, CIDR_HOST_BITS_SET. */
export class InvalidAddressError extends InvalidInputError {}

/**
 * The IP pool config cannot be used (POOL_OUTSIDE_SUBNET, POOL_REVERSED, OVERLAPPING_POOLS,
 * OVERLAPPING_NETWORKS, GATEWAY_OUTSIDE_SUBNET, ...); the message names the file, network and field.
 */
export class IpPoolConfigError extends InvalidInputError {}

/** A request the IP ledger contradicts: UNKNOWN_OWNER, ADDRESS_NOT_ALLOCATED, ADDRESS_TAKEN, ... */
export class IpPoolRequestError extends InvalidInputError {}

/** The IP ledger (state file) is unreadable or hand-broken; it is never reset silently. */
export class IpLedgerError extends StateError {}

/**
 * An address probe could not run: PROBE_TOOL_MISSING and PROBE_NO_INTERFACE (exit 4, this machine
 * lacks something), PROBE_FAILED (exit 5, the tool ran and failed).
 */
export class IpProbeError extends LabgateError {
  constructor(
    code: "PROBE_TOOL_MISSING" | "PROBE_NO_INTERFACE" | "PROBE_FAILED",
    message: string,
    options: Omit<LabgateErrorOptions, "exitCode"> = {},
  ) {
    super(code, message, {
      ...options,
      exitCode: code === "PROBE_FAILED" ? ExitCode.EXTERNAL : ExitCode.PRECONDITION,
    });
  }
}

/** SUBNET_EXHAUSTED: no usable address is left in a subnet, neither in its pools nor as fallback. */
export class SubnetExhaustedError extends LabgateError {
  constructor(message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super("SUBNET_EXHAUSTED", message, { ...options, exitCode: ExitCode.EXHAUSTED });
  }
}

export function isLabgateError(error: unknown): error is LabgateError {
  return error instanceof LabgateError;
}

/**
 * An OpenNebula call or resource failed. `code` is stable (ONE_AUTH_FAILED, ONE_UNREACHABLE,
 * ONE_NOT_FOUND, ONE_VM_FAILED, ONE_HOST_ERROR ...); `oneErrorCode` is OpenNebula's own numeric
 * code (0x0100 AUTHENTICATION ...) when the API returned one. Messages never carry the session.
 */
export class OpenNebulaError extends LabgateError {
  readonly oneErrorCode: number | undefined;
  readonly method: string | undefined;
  constructor(
    code: string,
    message: string,
    options: LabgateErrorOptions & { oneErrorCode?: number; method?: string } = {},
  ) {
    super(code, message, { exitCode: ExitCode.EXTERNAL, ...options });
    this.oneErrorCode = options.oneErrorCode;
    this.method = options.method;
  }
}

/** A command exited non-zero (COMMAND_FAILED); carries the exit code and the tail of stderr. Exit 5. */
export class CommandFailedError extends LabgateError {
  readonly command: string;
  readonly commandExitCode: number;
  readonly stderrTail: string;
  constructor(command: string, commandExitCode: number, stderrTail: string, target: string) {
    super(
      "COMMAND_FAILED",
      `\`${command}\` exited with ${commandExitCode} on ${target}${stderrTail ? `:\n${stderrTail}` : "."}`,
      {
        exitCode: ExitCode.EXTERNAL,
        hint: "Read the command's error output above; run the same command by hand on that machine to see more.",
        details: { command, exitCode: commandExitCode, stderrTail, target },
      },
    );
    this.command = command;
    this.commandExitCode = commandExitCode;
    this.stderrTail = stderrTail;
  }
}

/** RUNNER_TIMEOUT (exit 8) when a command outlived its timeout and was killed; RUNNER_ABORTED (exit 130) on Ctrl-C. */
export class RunnerTimeoutError extends LabgateError {
  constructor(
    code: "RUNNER_TIMEOUT" | "RUNNER_ABORTED",
    message: string,
    options: { hint: string; details?: Record<string, unknown> },
  ) {
    super(code, message, {
      ...options,
      exitCode: code === "RUNNER_TIMEOUT" ? ExitCode.TIMEOUT : ExitCode.INTERRUPTED,
    });
  }
}

/** COMMAND_NOT_FOUND: the program to run locally is not installed. Exit 4. */
export class CommandNotFoundError extends PreconditionError {}

/** SSH_CONNECT_FAILED (network, handshake) or SSH_AUTH_FAILED (no key or password was accepted). Exit 5. */
export class SshConnectError extends LabgateError {
  constructor(
    code: "SSH_CONNECT_FAILED" | "SSH_AUTH_FAILED",
    message: string,
    options: Omit<LabgateErrorOptions, "exitCode"> = {},
  ) {
    super(code, message, { ...options, exitCode: ExitCode.EXTERNAL });
  }
}

/**
 * The SSH server's host key was refused: HOST_KEY_UNKNOWN (not in known_hosts and not accepted at the gate, exit 4),
 * HOST_KEY_CHANGED / HOST_KEY_REVOKED (never accepted: possible man-in-the-middle, exit 5).
 */
export class HostKeyError extends LabgateError {
  constructor(
    code: "HOST_KEY_UNKNOWN" | "HOST_KEY_CHANGED" | "HOST_KEY_REVOKED",
    message: string,
    options: Omit<LabgateErrorOptions, "exitCode"> = {},
  ) {
    super(code, message, {
      ...options,
      exitCode: code === "HOST_KEY_UNKNOWN" ? ExitCode.PRECONDITION : ExitCode.EXTERNAL,
    });
  }
}

/** A deployment spec file that cannot be read or parsed, or that breaks the deploy rules (findings in details). */
export class DeploySpecError extends InvalidInputError {}

/**
 * A platform API call failed (PLATFORM_AUTH_FAILED, PLATFORM_NOT_FOUND, PLATFORM_API_ERROR,
 * PLATFORM_TASK_FAILED, PLATFORM_UNREACHABLE). Messages name the call, never credentials.
 */
export class PlatformApiError extends LabgateError {
  readonly platform: string;
  readonly status: number | undefined;
  constructor(
    platform: string,
    code: string,
    message: string,
    options: LabgateErrorOptions & { status?: number } = {},
  ) {
    super(code, message, { exitCode: ExitCode.EXTERNAL, ...options });
    this.platform = platform;
    this.status = options.status;
  }
}

/** PLATFORM_CREDENTIALS_MISSING / PLATFORM_OPTION_MISSING: what an adapter needs before it can call its API. */
export class PlatformConfigError extends PreconditionError {}

/**
 * PLATFORM_SDK_MISSING (exit 4): the AWS and Azure adapters live in @labgate/clouds, whose SDKs are optional
 * peer dependencies, so `bench` never installs them; the first AWS or Azure use without them names the
 * packages and the install command.
 */
export class PlatformSdkMissingError extends PreconditionError {
  readonly packages: readonly string[];
  constructor(platform: string, packages: readonly string[], cause: unknown) {
    super(
      "PLATFORM_SDK_MISSING",
      `The ${platform} adapter needs ${packages.join(", ")}, which is not installed (the cloud adapters and their SDKs are optional peer dependencies, loaded on first use).`,
      {
        cause,
        hint: `Install it next to labgate: npm install ${packages.join(" ")}`,
        details: { platform, packages: [...packages] },
      },
    );
    this.packages = packages;
  }
}

/** PLATFORM_WAIT_TIMEOUT: a VM or task did not reach the wanted state in time. */
export class PlatformTimeoutError extends LabgateError {
  constructor(message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super("PLATFORM_WAIT_TIMEOUT", message, { ...options, exitCode: ExitCode.TIMEOUT });
  }
}

/** DEPLOY_NOT_CONFIRMED: the user said no at the gate, or nobody could be asked (no TTY, no --yes). */
export class DeployNotConfirmedError extends LabgateError {
  constructor(message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super("DEPLOY_NOT_CONFIRMED", message, { ...options, exitCode: ExitCode.NOT_CONFIRMED });
  }
}
