import { ExitCode, type ExitCodeValue } from "./exit-codes.js";

export interface LabgateErrorOptions {
  /** What the user should do next; printed under the message. */
  hint?: string;
  cause?: unknown;
  /**
   * The exit code when the class's code table has none for the code. Only a class whose exit code is its
   * cause's (`exitCodeFromCause`, e.g. StepFailedError) may use it to override the table.
   */
  exitCode?: ExitCodeValue;
  /** Structured facts for --json output (never secrets). */
  details?: Record<string, unknown>;
}

/** Every code a class may carry, with the exit code the CLI ends with when it does. */
export type CodeTable<C extends string = string> = Readonly<Record<C, ExitCodeValue>>;

/** The codes of a code table, as a union of string literals. */
export type CodeOf<T extends CodeTable> = keyof T & string;

/** A code table whose codes all end with the same exit code. */
export function codeTable<const C extends string>(
  codes: readonly C[],
  exitCode: ExitCodeValue,
): CodeTable<C> {
  return Object.freeze(Object.fromEntries(codes.map((code) => [code, exitCode]))) as CodeTable<C>;
}

/** What every labgate error class has on its static side: its own code table and the classes whose codes it re-raises. */
export interface LabgateErrorClass {
  readonly name: string;
  readonly codes: CodeTable;
  readonly adopts: readonly LabgateErrorClass[];
  readonly exitCodeFromCause: boolean;
  readonly prototype: LabgateError<never>;
}

/** The exit code a class gives a code: its own table, then the classes it adopts, then the classes above it. */
export function exitCodeOf(errorClass: LabgateErrorClass, code: string): ExitCodeValue | undefined {
  for (let c: unknown = errorClass; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c)) {
    const cls = c as unknown as LabgateErrorClass;
    const tables = [
      ...(Object.hasOwn(cls, "codes") ? [cls.codes] : []),
      ...(Object.hasOwn(cls, "adopts") ? cls.adopts.map((a) => a.codes) : []),
    ];
    for (const table of tables) if (Object.hasOwn(table, code)) return table[code];
  }
  return undefined;
}

/** Every labgate error class among a module's exports (LabgateError itself when exported): for listings and tests. */
export function errorClassesIn(...modules: Record<string, unknown>[]): LabgateErrorClass[] {
  const found = new Set<LabgateErrorClass>();
  for (const module of modules)
    for (const value of Object.values(module))
      if (
        typeof value === "function" &&
        (value === LabgateError || Object.prototype.isPrototypeOf.call(LabgateError, value))
      )
        found.add(value as unknown as LabgateErrorClass);
  return [...found];
}

/**
 * The codes LabgateError itself is thrown with (prefer a subclass for new ones): INTERRUPTED (exit 130) on
 * Ctrl-C during a wait, NOT_CONFIRMED (7), PLAN_INVALID (5, a provider planned two steps with one id),
 * PLATFORM_WAIT_FAILED (5, a machine reached a failed state while waited for).
 */
const LABGATE_CODES = {
  INTERRUPTED: ExitCode.INTERRUPTED,
  NOT_CONFIRMED: ExitCode.NOT_CONFIRMED,
  PLAN_INVALID: ExitCode.EXTERNAL,
  PLATFORM_WAIT_FAILED: ExitCode.EXTERNAL,
} as const satisfies CodeTable;
export type LabgateCode = CodeOf<typeof LABGATE_CODES>;

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
 *
 * Each class owns its codes: `static codes` maps every code it may carry to its exit code, and `C` (the union
 * of those codes) types the constructor, so a code the class does not declare does not compile. `C` is only
 * read by the constructor (NoInfer: never guessed from the argument), so `LabgateError` stays one instance type.
 */
export class LabgateError<C extends string = LabgateCode> extends Error {
  static readonly codes: CodeTable = LABGATE_CODES;
  /** Classes whose codes this one re-raises with more context (same meaning, same exit code). */
  static readonly adopts: readonly LabgateErrorClass[] = [];
  /** Whether `options.exitCode` overrides the table: only for a wrapper whose exit code is its cause's. */
  static readonly exitCodeFromCause: boolean = false;

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

  /** The exit code is the code table's: one code, one exit code, whatever a throw site passes. */
  constructor(code: NoInfer<C>, message: string, options: LabgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, kErrorBrands, { value: Object.freeze(brandsOf(new.target)) });
    this.name = new.target.name;
    this.code = code;
    const errorClass = new.target as unknown as LabgateErrorClass;
    this.exitCode =
      (errorClass.exitCodeFromCause ? options.exitCode : undefined) ??
      exitCodeOf(errorClass, code) ??
      options.exitCode ??
      ExitCode.EXTERNAL;
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

const INVALID_INPUT_CODES = codeTable(
  [
    "APP_NAME_INVALID",
    "APP_PAYLOAD_INCOMPLETE",
    "DEPLOY_SPEC_MISSING",
    "DEPLOY_SPEC_TWICE",
    "DEPLOY_TIMEOUT_INVALID",
    "FAULTS_INVALID",
    "FAULT_INVALID",
    "FAULT_OUTSIDE_RUN",
    "FAULT_OVERLAP",
    "FAULT_TARGET_UNKNOWN",
    "FLAG_ALIAS_CONFLICT",
    "HAPROXY_OPTIONS_INVALID",
    "IMAGE_ALIAS_INVALID",
    "IMAGE_ARCH_UNSUPPORTED",
    "IMAGE_MIRROR_INVALID",
    "IMAGE_PACKAGE_INVALID",
    "IMAGE_SUITE_INVALID",
    "INVALID_COMMAND",
    "INVALID_FLAG",
    "INVALID_HOST_KEY_FINGERPRINT",
    "INVALID_SSH_TARGET",
    "LXD_LAB_OPTIONS_INVALID",
    "ONE_IMAGE_PATH_INVALID",
    "ONE_NO_ENDPOINT",
    "ONE_OPTION_INVALID",
    "ONE_START_SCRIPT_ENCODING",
    "ONE_START_SCRIPT_PAYLOAD",
    "ONE_TEMPLATE_ATTRIBUTE_INVALID",
    "SIM_LISTEN_INVALID",
    "SIM_VERSION_INVALID",
    "STEP_SELECTION",
    "UNKNOWN_PROVIDER",
    "UNKNOWN_STEP",
  ],
  ExitCode.INVALID_INPUT,
);
export type InvalidInputCode = CodeOf<typeof INVALID_INPUT_CODES>;

/** Bad input from the user: flags, config files, specs, expressions. Exit 2, whatever the subclass. */
export class InvalidInputError<C extends string = InvalidInputCode> extends LabgateError<C> {
  static override readonly codes: CodeTable = INVALID_INPUT_CODES;
  constructor(code: NoInfer<C>, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.INVALID_INPUT });
  }
}

const STATE_CODES = codeTable(
  [
    "AUDIT_LOG_SHORT_WRITE",
    "DEPLOY_EXISTS",
    "DEPLOY_INTERRUPTED_UNKNOWN",
    "DEPLOY_STATE_INVALID",
    "LEDGER_LOCKED",
    "LOCK_FAILED",
    "LOCK_TIMEOUT",
    "ONE_ADDRESS_MISSING",
    "STATE_CORRUPT",
    "STATE_DIR_OTHER_LAB",
    "STATE_PATH_UNRESOLVABLE",
    "STATE_UNREADABLE",
  ],
  ExitCode.STATE,
);
export type StateCode = CodeOf<typeof STATE_CODES>;

/** A state file that cannot be trusted, or a lock that cannot be taken. Exit 3, whatever the subclass. */
export class StateError<C extends string = StateCode> extends LabgateError<C> {
  static override readonly codes: CodeTable = STATE_CODES;
  constructor(code: NoInfer<C>, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.STATE });
  }
}

const PRECONDITION_CODES = codeTable(
  [
    "DEPLOY_NAME_TAKEN",
    "DEPLOY_NOT_FOUND",
    "FAULT_NEEDS_NETNS",
    "FAULT_NETEM_UNAVAILABLE",
    "FAULT_NO_BACKEND",
    "FAULT_NO_LAB",
    "FAULT_NO_NETNS",
    "FAULT_NO_RUNTIME_API",
    "FAULT_UNSUPPORTED",
    "HAPROXY_MISSING",
    "HAPROXY_TOO_OLD",
    "IMAGE_BUILD_TOOLS_MISSING",
    "IPROUTE2_MISSING",
    "LAB_NOT_BUILT",
    "LXD_BRIDGE_TAKEN",
    "LXD_EXPOSE_PORT_TAKEN",
    "LXD_HOST_TOOL_MISSING",
    "LXD_IMAGE_MISSING",
    "LXD_INSTANCE_MISSING",
    "LXD_INSTANCE_TAKEN",
    "LXD_PREFLIGHT_FAILED",
    "LXD_STORAGE_POOL_MISSING",
    "LXD_SUBNET_IN_USE",
    // Also LxdUnreachableError's (a subclass): the LXD preflight reports it as one of its problems.
    "LXD_UNREACHABLE",
    "NETNS_EXISTS",
    "NETNS_INTERFACE_EXISTS",
    "NETNS_NEEDS_ROOT",
    "NETNS_RANGE_CLASH",
    "ONE_LB_ROUTE_UNKNOWN",
    "ONE_NO_HOST_ACCESS",
    "ONE_NO_SSH",
    "ONE_SIM_CLEANUP_FAILED",
    "ONE_SIM_NAME_TAKEN",
    "ONE_SIM_SUBNET_IN_USE",
    "PG_DRIVER_MISSING",
    "PORT_IN_USE",
    "PYTHON_MISSING",
    "SIM_IMAGE_MISSING",
    "VERIFY_UNSUPPORTED",
  ],
  ExitCode.PRECONDITION,
);
export type PreconditionCode = CodeOf<typeof PRECONDITION_CODES>;

/** The machine lacks something the command needs (binary, daemon, free port). Exit 4, whatever the subclass. */
export class PreconditionError<C extends string = PreconditionCode> extends LabgateError<C> {
  static override readonly codes: CodeTable = PRECONDITION_CODES;
  constructor(code: NoInfer<C>, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.PRECONDITION });
  }
}

const INVALID_ADDRESS_CODES = codeTable(
  ["INVALID_ADDRESS", "INVALID_CIDR", "CIDR_HOST_BITS_SET", "IPV6_NOT_SUPPORTED"],
  ExitCode.INVALID_INPUT,
);
export type InvalidAddressCode = CodeOf<typeof INVALID_ADDRESS_CODES>;

/** A malformed IPv4 address or network: INVALID_ADDRESS, INVALID_CIDR, CIDR_HOST_BITS_SET, IPV6_NOT_SUPPORTED. */
export class InvalidAddressError extends InvalidInputError<InvalidAddressCode> {
  static override readonly codes: CodeTable = INVALID_ADDRESS_CODES;
}

const IP_POOL_CONFIG_CODES = codeTable(
  [
    "CONFIG_INVALID",
    "CONFIG_NOT_FOUND",
    "CONFIG_NOT_JSON",
    "CONFIG_UNKNOWN_FIELD",
    "CONFIG_UNREADABLE",
    "DUPLICATE_NETWORK_NAME",
    "EXCLUDE_OUTSIDE_SUBNET",
    "EXCLUDE_REVERSED",
    "GATEWAY_NOT_USABLE",
    "GATEWAY_OUTSIDE_SUBNET",
    "NETWORK_TOO_SMALL",
    "OVERLAPPING_NETWORKS",
    "OVERLAPPING_POOLS",
    "POOL_OUTSIDE_SUBNET",
    "POOL_REVERSED",
  ],
  ExitCode.INVALID_INPUT,
);
export type IpPoolConfigCode = CodeOf<typeof IP_POOL_CONFIG_CODES>;

/**
 * The IP pool config cannot be used (POOL_OUTSIDE_SUBNET, POOL_REVERSED, OVERLAPPING_POOLS,
 * OVERLAPPING_NETWORKS, GATEWAY_OUTSIDE_SUBNET, ...); the message names the file, network and field.
 * A bad address in the file keeps InvalidAddressError's code (INVALID_ADDRESS ...) with the file and field added.
 */
export class IpPoolConfigError extends InvalidInputError<IpPoolConfigCode | InvalidAddressCode> {
  static override readonly codes: CodeTable = IP_POOL_CONFIG_CODES;
  static override readonly adopts: readonly LabgateErrorClass[] = [InvalidAddressError];
}

const IP_POOL_REQUEST_CODES = codeTable(
  [
    "ADDRESS_IS_GATEWAY",
    "ADDRESS_NOT_ALLOCATED",
    "ADDRESS_NOT_USABLE",
    "ADDRESS_OUTSIDE_NETWORK",
    "ADDRESS_TAKEN",
    "INVALID_LEDGER_URL",
    "INVALID_OWNER",
    "INVALID_PLATFORM",
    "INVALID_PROBE_METHOD",
    "INVALID_SINCE",
    "LEDGER_AND_STATE",
    "MISSING_OPTION",
    "NETWORK_CONFLICT",
    "NETWORK_NOT_ASSIGNABLE",
    "NETWORK_REQUIRED",
    "NO_POOLS",
    "PROBE_DISABLED",
    "RELEASE_SELECTOR",
    "STATE_PATH_REQUIRED",
    "UNKNOWN_OWNER",
  ],
  ExitCode.INVALID_INPUT,
);
export type IpPoolRequestCode = CodeOf<typeof IP_POOL_REQUEST_CODES>;

/**
 * A request the IP ledger contradicts: UNKNOWN_OWNER, ADDRESS_NOT_ALLOCATED, ADDRESS_TAKEN, ... A --network
 * too small to allocate from is the config's NETWORK_TOO_SMALL.
 */
export class IpPoolRequestError extends InvalidInputError<IpPoolRequestCode | "NETWORK_TOO_SMALL"> {
  static override readonly codes: CodeTable = IP_POOL_REQUEST_CODES;
  static override readonly adopts: readonly LabgateErrorClass[] = [IpPoolConfigError];
}

const IP_LEDGER_CODES = codeTable(
  [
    "LEDGER_CONFLICTS_WITH_CONFIG",
    "LEDGER_INVALID",
    "LEDGER_MIGRATED",
    "LEDGER_NOT_EMPTY",
    "PG_SCHEMA_FAILED",
    "PG_UNREACHABLE",
  ],
  ExitCode.STATE,
);
export type IpLedgerCode = CodeOf<typeof IP_LEDGER_CODES>;

/** The IP ledger (state file) is unreadable or hand-broken; it is never reset silently. */
export class IpLedgerError extends StateError<IpLedgerCode> {
  static override readonly codes: CodeTable = IP_LEDGER_CODES;
}

const IP_PROBE_CODES = {
  PROBE_TOOL_MISSING: ExitCode.PRECONDITION,
  PROBE_NO_INTERFACE: ExitCode.PRECONDITION,
  PROBE_FAILED: ExitCode.EXTERNAL,
} as const satisfies CodeTable;
export type IpProbeCode = CodeOf<typeof IP_PROBE_CODES>;

/**
 * An address probe could not run: PROBE_TOOL_MISSING and PROBE_NO_INTERFACE (exit 4, this machine
 * lacks something), PROBE_FAILED (exit 5, the tool ran and failed).
 */
export class IpProbeError extends LabgateError<IpProbeCode> {
  static override readonly codes: CodeTable = IP_PROBE_CODES;
  constructor(code: IpProbeCode, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, options);
  }
}

/** SUBNET_EXHAUSTED: no usable address is left in a subnet, neither in its pools nor as fallback. */
export class SubnetExhaustedError extends LabgateError<"SUBNET_EXHAUSTED"> {
  static override readonly codes: CodeTable = codeTable(["SUBNET_EXHAUSTED"], ExitCode.EXHAUSTED);
  constructor(message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super("SUBNET_EXHAUSTED", message, options);
  }
}

export function isLabgateError(error: unknown): error is LabgateError {
  return error instanceof LabgateError;
}

const OPENNEBULA_CODES = {
  // The endpoint or credentials the user gave are unusable.
  ONE_ENDPOINT_INVALID: ExitCode.INVALID_INPUT,
  ONE_ENDPOINT_MISSING: ExitCode.INVALID_INPUT,
  ONE_SESSION_INVALID: ExitCode.INVALID_INPUT,
  ONE_SESSION_MISSING: ExitCode.INVALID_INPUT,
  // The cloud lacks what the lab needs, or refuses this user.
  ONE_AUTH_FAILED: ExitCode.PRECONDITION,
  ONE_DRIVER_UNSUPPORTED: ExitCode.PRECONDITION,
  ONE_EXPOSE_UNAVAILABLE: ExitCode.PRECONDITION,
  ONE_HOST_DISABLED: ExitCode.PRECONDITION,
  ONE_HOST_MISSING: ExitCode.PRECONDITION,
  ONE_NO_HOST: ExitCode.PRECONDITION,
  ONE_NOT_AUTHORIZED: ExitCode.PRECONDITION,
  ONE_UNREACHABLE: ExitCode.PRECONDITION,
  ONE_VNET_MISMATCH: ExitCode.PRECONDITION,
  // A call or a resource failed while doing the work.
  ONE_ALLOCATE_FAILED: ExitCode.EXTERNAL,
  ONE_API_ERROR: ExitCode.EXTERNAL,
  ONE_EXPOSE_MISSING: ExitCode.EXTERNAL,
  ONE_HOST_ERROR: ExitCode.EXTERNAL,
  ONE_IMAGE_ERROR: ExitCode.EXTERNAL,
  ONE_IMAGE_NOT_READY: ExitCode.EXTERNAL,
  ONE_INTERNAL_ERROR: ExitCode.EXTERNAL,
  ONE_LB_NOT_DEPLOYED: ExitCode.EXTERNAL,
  ONE_LOCKED: ExitCode.EXTERNAL,
  ONE_MARKETAPP_MISSING: ExitCode.EXTERNAL,
  ONE_MARKETAPP_NOT_READY: ExitCode.EXTERNAL,
  ONE_NOT_FOUND: ExitCode.EXTERNAL,
  ONE_PROTOCOL_ERROR: ExitCode.EXTERNAL,
  ONE_TEMPLATE_MISMATCH: ExitCode.EXTERNAL,
  ONE_TEMPLATE_MISSING: ExitCode.EXTERNAL,
  ONE_VM_ADDRESS_MISMATCH: ExitCode.EXTERNAL,
  ONE_VM_FAILED: ExitCode.EXTERNAL,
  ONE_VM_NOT_DONE: ExitCode.EXTERNAL,
  ONE_VM_NOT_RUNNING: ExitCode.EXTERNAL,
  ONE_VNET_ERROR: ExitCode.EXTERNAL,
  ONE_VNET_MISSING: ExitCode.EXTERNAL,
  ONE_WRONG_STATE: ExitCode.EXTERNAL,
  ONE_TIMEOUT: ExitCode.TIMEOUT,
} as const satisfies CodeTable;
export type OpenNebulaCode = CodeOf<typeof OPENNEBULA_CODES>;

/**
 * An OpenNebula call or resource failed. `code` is stable (ONE_AUTH_FAILED, ONE_UNREACHABLE,
 * ONE_NOT_FOUND, ONE_VM_FAILED, ONE_HOST_ERROR ...); `oneErrorCode` is OpenNebula's own numeric
 * code (0x0100 AUTHENTICATION ...) when the API returned one. Messages never carry the session.
 * The exit code is the code's, from the table above.
 */
export class OpenNebulaError extends LabgateError<OpenNebulaCode> {
  static override readonly codes: CodeTable = OPENNEBULA_CODES;
  declare readonly code: OpenNebulaCode;
  readonly oneErrorCode: number | undefined;
  readonly method: string | undefined;
  constructor(
    code: OpenNebulaCode,
    message: string,
    options: LabgateErrorOptions & { oneErrorCode?: number; method?: string } = {},
  ) {
    super(code, message, options);
    this.oneErrorCode = options.oneErrorCode;
    this.method = options.method;
  }
}

/** A command exited non-zero (COMMAND_FAILED); carries the exit code and the tail of stderr. Exit 5. */
export class CommandFailedError extends LabgateError<"COMMAND_FAILED"> {
  static override readonly codes: CodeTable = codeTable(["COMMAND_FAILED"], ExitCode.EXTERNAL);
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

const RUNNER_TIMEOUT_CODES = {
  RUNNER_TIMEOUT: ExitCode.TIMEOUT,
  RUNNER_ABORTED: ExitCode.INTERRUPTED,
} as const satisfies CodeTable;
export type RunnerTimeoutCode = CodeOf<typeof RUNNER_TIMEOUT_CODES>;

/** RUNNER_TIMEOUT (exit 8) when a command outlived its timeout and was killed; RUNNER_ABORTED (exit 130) on Ctrl-C. */
export class RunnerTimeoutError extends LabgateError<RunnerTimeoutCode> {
  static override readonly codes: CodeTable = RUNNER_TIMEOUT_CODES;
  constructor(
    code: RunnerTimeoutCode,
    message: string,
    options: { hint: string; details?: Record<string, unknown> },
  ) {
    super(code, message, options);
  }
}

/** COMMAND_NOT_FOUND: the program to run locally is not installed. Exit 4. */
export class CommandNotFoundError extends PreconditionError<"COMMAND_NOT_FOUND"> {
  static override readonly codes: CodeTable = codeTable(["COMMAND_NOT_FOUND"], ExitCode.PRECONDITION);
}

const SSH_CONNECT_CODES = codeTable(["SSH_CONNECT_FAILED", "SSH_AUTH_FAILED"], ExitCode.EXTERNAL);
export type SshConnectCode = CodeOf<typeof SSH_CONNECT_CODES>;

/** SSH_CONNECT_FAILED (network, handshake) or SSH_AUTH_FAILED (no key or password was accepted). Exit 5. */
export class SshConnectError extends LabgateError<SshConnectCode> {
  static override readonly codes: CodeTable = SSH_CONNECT_CODES;
  constructor(code: SshConnectCode, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, options);
  }
}

const HOST_KEY_CODES = {
  HOST_KEY_UNKNOWN: ExitCode.PRECONDITION,
  HOST_KEY_CHANGED: ExitCode.EXTERNAL,
  HOST_KEY_REVOKED: ExitCode.EXTERNAL,
} as const satisfies CodeTable;
export type HostKeyCode = CodeOf<typeof HOST_KEY_CODES>;

/**
 * The SSH server's host key was refused: HOST_KEY_UNKNOWN (not in known_hosts and not accepted at the gate, exit 4),
 * HOST_KEY_CHANGED / HOST_KEY_REVOKED (never accepted: possible man-in-the-middle, exit 5).
 */
export class HostKeyError extends LabgateError<HostKeyCode> {
  static override readonly codes: CodeTable = HOST_KEY_CODES;
  constructor(code: HostKeyCode, message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super(code, message, options);
  }
}

const DEPLOY_SPEC_CODES = codeTable(
  [
    "CLOUD_STATIC_WITHOUT_ADDRESS",
    "DEPLOY_PLATFORM_REQUIRED",
    "DEPLOY_PLATFORM_UNKNOWN",
    "IP_POOL_REQUIRED",
    "SPEC_NOT_JSON",
    "SPEC_UNREADABLE",
    "STATIC_ADDRESS_REQUIRED",
    "STATIC_NETWORK_INCOMPLETE",
  ],
  ExitCode.INVALID_INPUT,
);
export type DeploySpecCode = CodeOf<typeof DEPLOY_SPEC_CODES>;

/** A deployment spec file that cannot be read or parsed, or that breaks the deploy rules (findings in details). */
export class DeploySpecError extends InvalidInputError<DeploySpecCode> {
  static override readonly codes: CodeTable = DEPLOY_SPEC_CODES;
}

const PLATFORM_API_CODES = codeTable(
  [
    "PLATFORM_API_ERROR",
    "PLATFORM_AUTH_FAILED",
    "PLATFORM_BAD_REQUEST",
    "PLATFORM_NOT_FOUND",
    "PLATFORM_PERMISSION_DENIED",
    "PLATFORM_RESPONSE_INVALID",
    "PLATFORM_TASK_FAILED",
    "PLATFORM_UNREACHABLE",
    "ESXI_OVA_NO_DISK",
    "LOCAL_PROCESS_EXITED",
  ],
  ExitCode.EXTERNAL,
);
export type PlatformApiCode = CodeOf<typeof PLATFORM_API_CODES>;

/**
 * A platform API call failed (PLATFORM_AUTH_FAILED, PLATFORM_NOT_FOUND, PLATFORM_API_ERROR,
 * PLATFORM_TASK_FAILED, PLATFORM_UNREACHABLE). Messages name the call, never credentials.
 */
export class PlatformApiError extends LabgateError<PlatformApiCode> {
  static override readonly codes: CodeTable = PLATFORM_API_CODES;
  declare readonly code: PlatformApiCode;
  readonly platform: string;
  readonly status: number | undefined;
  constructor(
    platform: string,
    code: PlatformApiCode,
    message: string,
    options: Omit<LabgateErrorOptions, "exitCode"> & { status?: number } = {},
  ) {
    super(code, message, options);
    this.platform = platform;
    this.status = options.status;
  }
}

const PLATFORM_CONFIG_CODES = codeTable(
  [
    "PLATFORM_CREDENTIALS_MISSING",
    "PLATFORM_CREDENTIALS_INVALID",
    "PLATFORM_OPTION_MISSING",
    "ESXI_NEEDS_VCENTER",
  ],
  ExitCode.PRECONDITION,
);
export type PlatformConfigCode = CodeOf<typeof PLATFORM_CONFIG_CODES>;

/** PLATFORM_CREDENTIALS_MISSING / PLATFORM_OPTION_MISSING: what an adapter needs before it can call its API. */
export class PlatformConfigError extends PreconditionError<PlatformConfigCode> {
  static override readonly codes: CodeTable = PLATFORM_CONFIG_CODES;
}

/**
 * PLATFORM_SDK_MISSING (exit 4): the AWS and Azure adapters live in @labgate/clouds, whose SDKs are optional
 * peer dependencies, so `bench` never installs them; the first AWS or Azure use without them names the
 * packages and the install command.
 */
export class PlatformSdkMissingError extends PreconditionError<"PLATFORM_SDK_MISSING"> {
  static override readonly codes: CodeTable = codeTable(["PLATFORM_SDK_MISSING"], ExitCode.PRECONDITION);
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
export class PlatformTimeoutError extends LabgateError<"PLATFORM_WAIT_TIMEOUT"> {
  static override readonly codes: CodeTable = codeTable(["PLATFORM_WAIT_TIMEOUT"], ExitCode.TIMEOUT);
  constructor(message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super("PLATFORM_WAIT_TIMEOUT", message, options);
  }
}

/** DEPLOY_NOT_CONFIRMED: the user said no at the gate, or nobody could be asked (no TTY, no --yes). */
export class DeployNotConfirmedError extends LabgateError<"DEPLOY_NOT_CONFIRMED"> {
  static override readonly codes: CodeTable = codeTable(["DEPLOY_NOT_CONFIRMED"], ExitCode.NOT_CONFIRMED);
  constructor(message: string, options: Omit<LabgateErrorOptions, "exitCode"> = {}) {
    super("DEPLOY_NOT_CONFIRMED", message, options);
  }
}
