import { join, resolve } from "node:path";
import { DEFAULT_DEPLOY_STATE_DIR } from "../deploy-rules/deploy-state.js";
import type { Finding } from "../deploy-rules/findings.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { CommandNotFoundError, LabgateError, PlatformApiError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { isGone, type ProcStat } from "../process/proc-stat.js";
import { displayQuote } from "../runner/shell-quote.js";
import {
  acceptsConnections,
  logTail,
  type ProcessNode,
  sameProcess,
  signalNode,
  startProcessNode,
  stopProcessNode,
  waitForProcessNode,
} from "./local-process.js";
import { OptionReader } from "./options.js";
import type {
  CallOptions,
  DeploymentPlan,
  NodeInfo,
  NodeRef,
  NodeState,
  PlatformAdapter,
  PlatformCapabilities,
  ResolvedSpec,
  WaitOptions,
} from "./types.js";
import { pollUntil } from "./wait.js";

export interface LocalAdapterOptions {
  /** platform_options.local: command (argv, {ip} and {name} substituted), ready_port, log_dir. */
  spec?: DeploySpec;
  overrides?: Record<string, unknown>;
  pollIntervalMs?: number;
  /** How long destroy waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

/**
 * The `local` platform: a node is a process on this machine, in its own session, bound to a loopback
 * address from the IP pool. Its environment carries the static network the way cloud-init would
 * (LABGATE_IP, LABGATE_PREFIX, LABGATE_GATEWAY, LABGATE_DNS); stop/start pause and resume it
 * (SIGSTOP/SIGCONT); destroy ends its process group. Runs anywhere, so the whole deploy lifecycle can
 * be tried before any hypervisor is involved.
 */
export class LocalAdapter implements PlatformAdapter {
  readonly name = "local" as const;
  readonly capabilities: PlatformCapabilities = {
    dhcpAvailable: false,
    windowsDiskBus: "virtio",
    imageFormats: [],
    convertibleFormats: [],
    cloneFromTemplate: false,
    guestConfig: "environment",
  };

  constructor(private readonly options: LocalAdapterOptions = {}) {}

  validate(spec: DeploySpec): Finding[] {
    const o = this.reader(spec);
    const out: Finding[] = [];
    if (!commandOf(o)) {
      out.push({
        code: "LOCAL_COMMAND_REQUIRED",
        severity: "error",
        field: "platform_options.local.command",
        message: "A local node is a process: platform_options.local.command (a list of strings) says which.",
        fix: 'E.g. "platform_options": {"local": {"command": ["python3", "-m", "http.server", "--bind", "{ip}", "8080"], "ready_port": 8080}}.',
      });
    }
    const port = o.values.ready_port;
    if (
      port !== undefined &&
      !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)
    ) {
      out.push({
        code: "LOCAL_READY_PORT_INVALID",
        severity: "error",
        field: "platform_options.local.ready_port",
        message: `ready_port must be a TCP port (1-65535), got ${JSON.stringify(port)}.`,
        fix: "Give the port the command listens on, or remove ready_port.",
      });
    }
    if (spec.os.family === "windows") {
      out.push({
        code: "LOCAL_WINDOWS_UNSUPPORTED",
        severity: "error",
        field: "os.family",
        message: "A local node runs on this (Linux) machine; it cannot be a Windows guest.",
        fix: "Deploy Windows to proxmox, esxi or azure.",
      });
    }
    out.push({
      code: "LOCAL_LIMITS_NOT_ENFORCED",
      severity: "info",
      field: "cores",
      message: `cores (${spec.cores}) and memory_mib (${spec.memory_mib}) are passed to the process as LABGATE_CORES/LABGATE_MEMORY_MIB, not enforced.`,
      fix: "Nothing to do; use lxd or a hypervisor when the limits matter.",
    });
    return out;
  }

  plan(spec: ResolvedSpec): DeploymentPlan {
    const o = this.reader(spec);
    const argv = this.argv(spec, o);
    const port = o.number("ready_port");
    const ip = addressOf(spec);
    return {
      platform: "local",
      name: spec.name,
      network: spec.resolvedNetwork,
      calls: [
        {
          kind: "command",
          action: argv[0] ?? "",
          where: "local",
          target: argv.map(displayQuote).join(" "),
          why: `Start the node as a detached process in its own session, bound to ${ip}; output goes to ${this.logFile(spec, o)}.`,
          params: nodeEnvironment(spec),
        },
        {
          kind: "probe",
          action: "probe",
          where: "local",
          target: port === undefined ? "/proc/<pid>/stat" : `/proc/<pid>/stat, tcp ${ip}:${port}`,
          why:
            port === undefined
              ? "Poll until the process is running."
              : `Poll until the process is running and accepts connections on ${ip}:${port}.`,
        },
      ],
    };
  }

  async create(spec: ResolvedSpec, call: CallOptions = {}): Promise<NodeRef> {
    const o = this.reader(spec);
    const argv = this.argv(spec, o);
    const logFile = this.logFile(spec, o);
    call.onCall?.(`start ${argv.map(displayQuote).join(" ")}`);
    let node: ProcessNode | undefined;
    try {
      node = await startProcessNode(argv, logFile, { ...process.env, ...nodeEnvironment(spec) });
    } catch (cause) {
      throw new CommandNotFoundError(
        "COMMAND_NOT_FOUND",
        `Cannot start ${argv[0]}: ${(cause as Error).message}.`,
        { hint: "Check platform_options.local.command: the program must be installed and on PATH.", cause },
      );
    }
    if (!node) throw await exited(argv, logFile);
    const port = o.number("ready_port");
    return {
      platform: "local",
      id: String(node.pid),
      name: spec.name,
      location: {
        started: node.startTime,
        ip: addressOf(spec),
        log: logFile,
        ...(port === undefined ? {} : { ready_port: String(port) }),
      },
    };
  }

  async get(ref: NodeRef): Promise<NodeInfo | undefined> {
    const stat = await this.stat(ref);
    if (isGone(stat)) return undefined;
    const letter = (stat as ProcStat).state;
    const ip = ref.location?.ip;
    const port = Number(ref.location?.ready_port);
    let state: NodeState = isPaused(stat) ? "stopped" : "running";
    if (state === "running" && ip && Number.isInteger(port) && port > 0)
      state = (await acceptsConnections(ip, port)) ? "running" : "pending";
    return {
      ref,
      state,
      rawState: `${letter} (${PROC_STATES[letter] ?? "unknown"})`,
      addresses: ip ? [ip] : [],
    };
  }

  async start(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    if (isGone(await this.stat(ref))) {
      throw new PlatformApiError(
        "local",
        "PLATFORM_NOT_FOUND",
        `Local node ${ref.name} (pid ${ref.id}) has exited.`,
        {
          hint: "A local node cannot be restarted once its process is gone: destroy it and deploy again.",
        },
      );
    }
    call.onCall?.(`kill -CONT -${ref.id}`);
    signalNode(Number(ref.id), "SIGCONT");
    await this.settle(ref, "resume", (stat) => isGone(stat) || !isPaused(stat));
  }

  async stop(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    if (isGone(await this.stat(ref))) return;
    call.onCall?.(`kill -STOP -${ref.id}`);
    signalNode(Number(ref.id), "SIGSTOP");
    await this.settle(ref, "pause", (stat) => isGone(stat) || isPaused(stat));
  }

  async destroy(ref: NodeRef, call: CallOptions = {}): Promise<void> {
    const started = ref.location?.started;
    if (!started) return;
    await stopProcessNode(
      { pid: Number(ref.id), startTime: started },
      {
        graceMs: this.options.stopGraceMs ?? 5_000,
        name: `local node ${ref.name}`,
        ...(call.onCall ? { onSignal: call.onCall } : {}),
      },
    );
  }

  async waitUntilRunning(ref: NodeRef, options: WaitOptions = {}): Promise<NodeInfo> {
    const what = `Waiting for local node ${ref.name} (${ref.id}) to run`;
    const started = ref.location?.started;
    let info: NodeInfo | undefined;
    if (started) {
      // Running: the process is ours, not paused, and accepts connections on its ready_port (get()).
      await waitForProcessNode(
        { pid: Number(ref.id), startTime: started },
        async () => {
          info = await this.get(ref);
          return info?.state === "running";
        },
        what,
        { intervalMs: this.options.pollIntervalMs ?? 200, ...options },
      );
    }
    if (!info) {
      throw new LabgateError("PLATFORM_WAIT_FAILED", `${what}: the node no longer exists`, {
        exitCode: ExitCode.EXTERNAL,
      });
    }
    return info;
  }

  /** Signals are delivered asynchronously: wait until /proc shows their effect. */
  private async settle(
    ref: NodeRef,
    what: string,
    done: (stat: ProcStat | undefined) => boolean,
  ): Promise<void> {
    await pollUntil(
      `Waiting for local node ${ref.name} (pid ${ref.id}) to ${what}`,
      () => this.stat(ref),
      done,
      {
        timeoutMs: 5_000,
        intervalMs: 10,
      },
    );
  }

  private stat(ref: NodeRef): Promise<ProcStat | undefined> {
    const started = ref.location?.started;
    return started ? sameProcess(Number(ref.id), started) : Promise.resolve(undefined);
  }

  private argv(spec: ResolvedSpec, o: OptionReader): string[] {
    const ip = addressOf(spec);
    return (commandOf(o) ?? []).map((word) => word.replaceAll("{ip}", ip).replaceAll("{name}", spec.name));
  }

  private logFile(spec: DeploySpec, o: OptionReader): string {
    return resolve(o.string("log_dir") ?? join(DEFAULT_DEPLOY_STATE_DIR, "local"), `${spec.name}.log`);
  }

  private reader(spec: DeploySpec | undefined): OptionReader {
    return new OptionReader("local", spec ?? this.options.spec, this.options.overrides ?? {});
  }
}

const PROC_STATES: Record<string, string> = {
  R: "running",
  S: "sleeping",
  D: "disk sleep",
  I: "idle",
  T: "stopped",
  t: "tracing stop",
};

function isPaused(stat: ProcStat | undefined): boolean {
  return stat?.state === "T" || stat?.state === "t";
}

function commandOf(o: OptionReader): string[] | undefined {
  const v = o.values.command;
  return Array.isArray(v) && v.length > 0 && v.every((w) => typeof w === "string" && w !== "")
    ? (v as string[])
    : undefined;
}

function addressOf(spec: ResolvedSpec): string {
  // The rules refuse DHCP for local nodes; a static loopback address is all a local node can have.
  return spec.resolvedNetwork.mode === "static" ? spec.resolvedNetwork.ip : "127.0.0.1";
}

/** The static network and sizes, handed to the process the way cloud-init hands them to a guest. */
function nodeEnvironment(spec: ResolvedSpec): Record<string, string> {
  const n = spec.resolvedNetwork;
  return {
    LABGATE_NODE_NAME: spec.name,
    LABGATE_IP: addressOf(spec),
    ...(n.mode === "static"
      ? {
          LABGATE_PREFIX: String(n.prefix),
          LABGATE_NETMASK: n.netmask,
          LABGATE_GATEWAY: n.gateway,
          LABGATE_DNS: n.dns.join(" "),
        }
      : {}),
    LABGATE_CORES: String(spec.cores),
    LABGATE_MEMORY_MIB: String(spec.memory_mib),
  };
}

async function exited(argv: readonly string[], logFile: string): Promise<PlatformApiError> {
  return new PlatformApiError(
    "local",
    "LOCAL_PROCESS_EXITED",
    `${argv[0]} exited right after it started. Last log lines:\n${await logTail(logFile)}`,
    { hint: `Read ${logFile}, or run the command by hand: ${argv.map(displayQuote).join(" ")}` },
  );
}
