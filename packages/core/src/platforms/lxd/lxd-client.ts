import { describeValue, invalidResponse, isRecord } from "../../adapters/response-shape.js";
import { LxdNotFoundError, LxdOperationFailedError, LxdTimeoutError } from "./lxd-errors.js";
import { type MultipartFilePart, multipartBody } from "./multipart.js";
import {
  LXD_LOG_HINT,
  type LxdEnvelope,
  type LxdRequest,
  LxdTransport,
  type LxdTransportOptions,
} from "./transport.js";
import type {
  LxdConfig,
  LxdDevices,
  LxdExecResult,
  LxdImage,
  LxdImageAlias,
  LxdInstance,
  LxdInstanceState,
  LxdInstancesPost,
  LxdNetwork,
  LxdNetworkPost,
  LxdOperation,
  LxdProfile,
  LxdServer,
  LxdStoragePool,
} from "./types.js";

export interface LxdWaitOptions {
  /** Deadline for the whole operation. Default 120 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface LxdExecOptions extends LxdWaitOptions {
  environment?: Record<string, string>;
  cwd?: string;
}

export interface LxdPushFileOptions {
  uid?: number;
  gid?: number;
  /** Unix mode, e.g. 0o644. */
  mode?: number;
}

export interface LxdImageImportOptions extends LxdWaitOptions {
  metadataPath: string;
  rootfsPath: string;
  properties?: Record<string, string>;
  public?: boolean;
}

const enc = encodeURIComponent;

export type LxdStateAction = "start" | "stop" | "restart" | "freeze" | "unfreeze";
export interface LxdStateOptions {
  force?: boolean;
  timeoutSeconds?: number;
}

/** The body of PUT /1.0/instances/NAME/state: what setInstanceState sends, and what a plan shows of it. */
export function instanceStateBody(action: LxdStateAction, options: LxdStateOptions = {}) {
  return { action, force: options.force ?? false, timeout: options.timeoutSeconds ?? 30 };
}

/** `PUT /1.0/instances/NAME/state {...}` with the body setInstanceState sends for these options. */
export function instanceStateCall(
  name: string,
  action: LxdStateAction,
  options: LxdStateOptions = {},
): string {
  return `PUT /1.0/instances/${name}/state ${JSON.stringify(instanceStateBody(action, options))}`;
}

/**
 * Typed client of the LXD REST API over its unix socket. Every call is one documented endpoint;
 * async endpoints wait on their operation (`/1.0/operations/ID/wait`) and turn a failure into
 * LXD_OPERATION_FAILED with LXD's own message.
 */
export class LxdClient {
  readonly transport: LxdTransport;

  constructor(options: LxdTransportOptions | LxdTransport = {}) {
    this.transport = options instanceof LxdTransport ? options : new LxdTransport(options);
  }

  // --- server --------------------------------------------------------------------------------

  async server(): Promise<LxdServer> {
    return (await this.sync<LxdServer>({ method: "GET", path: "/1.0" })).metadata;
  }

  async hasExtension(name: string): Promise<boolean> {
    return (await this.server()).api_extensions.includes(name);
  }

  // --- networks ------------------------------------------------------------------------------

  async listNetworks(): Promise<LxdNetwork[]> {
    return (await this.sync<LxdNetwork[]>({ method: "GET", path: "/1.0/networks?recursion=1" })).metadata;
  }

  async getNetwork(name: string): Promise<LxdNetwork | undefined> {
    return this.optional(() => this.sync<LxdNetwork>({ method: "GET", path: `/1.0/networks/${enc(name)}` }));
  }

  async createNetwork(network: LxdNetworkPost): Promise<void> {
    await this.sync({ method: "POST", path: "/1.0/networks", body: { type: "bridge", ...network } });
  }

  /** Changes only the given keys (PATCH). */
  async patchNetwork(name: string, patch: { config?: LxdConfig; description?: string }): Promise<void> {
    await this.sync({ method: "PATCH", path: `/1.0/networks/${enc(name)}`, body: patch });
  }

  async deleteNetwork(name: string): Promise<void> {
    await this.sync({ method: "DELETE", path: `/1.0/networks/${enc(name)}` });
  }

  // --- storage pools and profiles -------------------------------------------------------------

  async listStoragePools(): Promise<LxdStoragePool[]> {
    return (await this.sync<LxdStoragePool[]>({ method: "GET", path: "/1.0/storage-pools?recursion=1" }))
      .metadata;
  }

  async getStoragePool(name: string): Promise<LxdStoragePool | undefined> {
    return this.optional(() =>
      this.sync<LxdStoragePool>({ method: "GET", path: `/1.0/storage-pools/${enc(name)}` }),
    );
  }

  async createStoragePool(name: string, driver: string, config: LxdConfig = {}): Promise<void> {
    await this.sync({ method: "POST", path: "/1.0/storage-pools", body: { name, driver, config } });
  }

  async getProfile(name: string): Promise<LxdProfile | undefined> {
    return this.optional(() => this.sync<LxdProfile>({ method: "GET", path: `/1.0/profiles/${enc(name)}` }));
  }

  async patchProfile(name: string, patch: { config?: LxdConfig; devices?: LxdDevices }): Promise<void> {
    await this.sync({ method: "PATCH", path: `/1.0/profiles/${enc(name)}`, body: patch });
  }

  // --- images --------------------------------------------------------------------------------

  async listImages(): Promise<LxdImage[]> {
    return (await this.sync<LxdImage[]>({ method: "GET", path: "/1.0/images?recursion=1" })).metadata;
  }

  async getImage(fingerprint: string): Promise<LxdImage | undefined> {
    return this.optional(() =>
      this.sync<LxdImage>({ method: "GET", path: `/1.0/images/${enc(fingerprint)}` }),
    );
  }

  async getImageAlias(name: string): Promise<LxdImageAlias | undefined> {
    return this.optional(() =>
      this.sync<LxdImageAlias>({ method: "GET", path: `/1.0/images/aliases/${encodeAlias(name)}` }),
    );
  }

  /** The image an alias points to, or undefined when the alias does not exist. */
  async resolveImageAlias(name: string): Promise<LxdImage | undefined> {
    const alias = await this.getImageAlias(name);
    return alias ? this.getImage(alias.target) : undefined;
  }

  /** Creates the alias, or moves an existing one to `target`. */
  async setImageAlias(name: string, target: string, description = ""): Promise<void> {
    const existing = await this.getImageAlias(name);
    if (!existing) {
      await this.sync({ method: "POST", path: "/1.0/images/aliases", body: { name, target, description } });
    } else if (existing.target !== target) {
      await this.sync({
        method: "PUT",
        path: `/1.0/images/aliases/${encodeAlias(name)}`,
        body: { target, description },
      });
    }
  }

  /** Uploads a split image (metadata tarball + rootfs tarball); returns its fingerprint. */
  async importImage(options: LxdImageImportOptions): Promise<string> {
    const parts: MultipartFilePart[] = [
      { name: "metadata", path: options.metadataPath, filename: "metadata.tar.gz" },
      { name: "rootfs", path: options.rootfsPath, filename: "rootfs.tar.gz" },
    ];
    const { stream, contentType } = multipartBody(parts);
    const headers: Record<string, string> = { "content-type": contentType };
    if (options.public) headers["x-lxd-public"] = "true";
    if (options.properties) {
      headers["x-lxd-properties"] = new URLSearchParams(options.properties).toString();
    }
    const op = await this.async(
      {
        method: "POST",
        path: "/1.0/images",
        body: stream,
        headers,
        timeoutMs: options.timeoutMs ?? 600_000,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      { timeoutMs: options.timeoutMs ?? 600_000, signal: options.signal },
    );
    const fingerprint = (op.metadata as { fingerprint?: string } | null | undefined)?.fingerprint;
    if (!fingerprint)
      throw new LxdOperationFailedError("LXD imported the image but did not report its fingerprint.");
    return fingerprint;
  }

  async deleteImage(fingerprint: string, wait: LxdWaitOptions = {}): Promise<void> {
    await this.async({ method: "DELETE", path: `/1.0/images/${enc(fingerprint)}` }, wait);
  }

  // --- instances -----------------------------------------------------------------------------

  async listInstances(): Promise<LxdInstance[]> {
    return (await this.sync<LxdInstance[]>({ method: "GET", path: "/1.0/instances?recursion=1" })).metadata;
  }

  async getInstance(name: string): Promise<LxdInstance | undefined> {
    return this.optional(() =>
      this.sync<LxdInstance>({ method: "GET", path: `/1.0/instances/${enc(name)}` }),
    );
  }

  async createInstance(instance: LxdInstancesPost, wait: LxdWaitOptions = {}): Promise<void> {
    await this.async(
      { method: "POST", path: "/1.0/instances", body: { type: "container", ...instance } },
      wait,
    );
  }

  /** Changes only the given config keys / devices (PATCH); a device set to null... is not supported by LXD: use `removeDevice`. */
  async patchInstance(
    name: string,
    patch: { config?: LxdConfig; devices?: LxdDevices },
    wait: LxdWaitOptions = {},
  ): Promise<void> {
    await this.maybeAsync({ method: "PATCH", path: `/1.0/instances/${enc(name)}`, body: patch }, wait);
  }

  /** Removes one device: LXD's PATCH merges devices, so this is a PUT of the instance without it. */
  async removeDevice(name: string, device: string, wait: LxdWaitOptions = {}): Promise<boolean> {
    const instance = await this.getInstance(name);
    if (!instance?.devices[device]) return false;
    const { [device]: _removed, ...devices } = instance.devices;
    await this.maybeAsync(
      {
        method: "PUT",
        path: `/1.0/instances/${enc(name)}`,
        body: {
          architecture: instance.architecture,
          config: instance.config,
          devices,
          ephemeral: instance.ephemeral,
          profiles: instance.profiles,
          description: instance.description,
        },
      },
      wait,
    );
    return true;
  }

  async getInstanceState(name: string): Promise<LxdInstanceState> {
    return (await this.sync<LxdInstanceState>({ method: "GET", path: `/1.0/instances/${enc(name)}/state` }))
      .metadata;
  }

  /** start / stop / restart; `force` kills instead of asking init to shut down. */
  async setInstanceState(
    name: string,
    action: LxdStateAction,
    options: LxdWaitOptions & LxdStateOptions = {},
  ): Promise<void> {
    await this.async(
      { method: "PUT", path: `/1.0/instances/${enc(name)}/state`, body: instanceStateBody(action, options) },
      options,
    );
  }

  async deleteInstance(name: string, wait: LxdWaitOptions = {}): Promise<void> {
    await this.async({ method: "DELETE", path: `/1.0/instances/${enc(name)}` }, wait);
  }

  /**
   * Runs a command without websockets: LXD records stdout/stderr to log files, which are read and
   * deleted after the command ends. No stdin: push files instead.
   */
  async exec(name: string, command: string[], options: LxdExecOptions = {}): Promise<LxdExecResult> {
    let op: LxdOperation;
    try {
      op = await this.execOperation(name, command, options);
    } catch (error) {
      // LXD fails the operation itself for exit codes 126/127 instead of reporting them.
      const code = error instanceof LxdOperationFailedError ? execFailureCode(error.message) : undefined;
      if (code === undefined) throw error;
      return {
        exitCode: code,
        stdout: "",
        stderr: `${command[0]}: ${code === 127 ? "command not found" : "permission denied"}\n`,
      };
    }
    const meta = checkExecResult(`POST /1.0/instances/${name}/exec`, op.metadata);
    const read = async (fd: string): Promise<string> => {
      const path = meta.output?.[fd];
      if (!path) return "";
      const raw = await this.transport.raw({ method: "GET", path });
      await this.transport.raw({ method: "DELETE", path }).catch(() => undefined);
      return raw.body.toString("utf8");
    };
    return { exitCode: meta.return ?? -1, stdout: await read("1"), stderr: await read("2") };
  }

  private execOperation(name: string, command: string[], options: LxdExecOptions): Promise<LxdOperation> {
    return this.async(
      {
        method: "POST",
        path: `/1.0/instances/${enc(name)}/exec`,
        body: {
          command,
          environment: options.environment ?? {},
          ...(options.cwd ? { cwd: options.cwd } : {}),
          "wait-for-websocket": false,
          interactive: false,
          "record-output": true,
        },
      },
      options,
    );
  }

  async pushFile(
    name: string,
    path: string,
    content: string | Uint8Array,
    options: LxdPushFileOptions = {},
  ): Promise<void> {
    await this.sync({
      method: "POST",
      path: `/1.0/instances/${enc(name)}/files?path=${enc(path)}`,
      body: Buffer.from(content),
      headers: {
        "x-lxd-type": "file",
        "x-lxd-write": "overwrite",
        "x-lxd-uid": String(options.uid ?? 0),
        "x-lxd-gid": String(options.gid ?? 0),
        "x-lxd-mode": `0${(options.mode ?? 0o644).toString(8)}`,
      },
    });
  }

  /** Creates a directory in the instance (its parent must exist); an existing one is left as it is. */
  async pushDirectory(name: string, path: string, options: LxdPushFileOptions = {}): Promise<void> {
    await this.sync({
      method: "POST",
      path: `/1.0/instances/${enc(name)}/files?path=${enc(path)}`,
      body: Buffer.alloc(0),
      headers: {
        "x-lxd-type": "directory",
        "x-lxd-uid": String(options.uid ?? 0),
        "x-lxd-gid": String(options.gid ?? 0),
        "x-lxd-mode": `0${(options.mode ?? 0o755).toString(8)}`,
      },
    });
  }

  /** A file's bytes, or undefined when it does not exist. */
  async readFile(name: string, path: string): Promise<Buffer | undefined> {
    try {
      return (
        await this.transport.raw({
          method: "GET",
          path: `/1.0/instances/${enc(name)}/files?path=${enc(path)}`,
        })
      ).body;
    } catch (error) {
      if (error instanceof LxdNotFoundError) return undefined;
      throw error;
    }
  }

  // --- operations ----------------------------------------------------------------------------

  /**
   * Waits for an operation to finish, in slices of at most 30 s so an AbortSignal is honoured;
   * Failure and Cancelled become LXD_OPERATION_FAILED, the deadline LXD_TIMEOUT.
   */
  async waitOperation(operation: string, options: LxdWaitOptions = {}): Promise<LxdOperation> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    const path = operation.startsWith("/") ? operation : `/1.0/operations/${operation}`;
    for (;;) {
      options.signal?.throwIfAborted();
      const left = deadline - Date.now();
      const slice = Math.max(1, Math.min(30, Math.ceil(left / 1000)));
      const op = checkOperation(
        `GET ${path}/wait`,
        (
          await this.sync<unknown>({
            method: "GET",
            path: `${path}/wait?timeout=${slice}`,
            timeoutMs: (slice + 15) * 1000,
            ...(options.signal ? { signal: options.signal } : {}),
          })
        ).metadata,
      );
      if (op.status === "Success") return op;
      if (op.status === "Failure" || op.status === "Cancelled") {
        throw new LxdOperationFailedError(
          `LXD operation "${op.description}" ${op.status.toLowerCase()}: ${op.err || "no reason given"}.`,
          {
            hint: `LXD's message is above; \`lxc operation list\` and ${LXD_LOG_HINT} say more.`,
            details: { operation: op.id, resources: op.resources },
          },
        );
      }
      if (Date.now() >= deadline) {
        throw new LxdTimeoutError(
          `LXD operation "${op.description}" still ${op.status} after ${Math.round(timeoutMs / 1000)} s.`,
          {
            hint: "The operation continues in LXD: `lxc operation list`; retry with a longer timeout.",
            details: { operation: op.id },
          },
        );
      }
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  private sync<T>(req: LxdRequest): Promise<LxdEnvelope<T>> {
    return this.transport.json<T>(req);
  }

  /** An async endpoint: sends, then waits for its operation. */
  private async async(req: LxdRequest, wait: LxdWaitOptions = {}): Promise<LxdOperation> {
    const envelope = await this.transport.json<LxdOperation>(req);
    if (envelope.type !== "async" || !envelope.operation) return envelope.metadata;
    return this.waitOperation(envelope.operation, wait);
  }

  /** Endpoints that are sync for some changes and async for others (instance PATCH/PUT). */
  private async maybeAsync(req: LxdRequest, wait: LxdWaitOptions): Promise<void> {
    const envelope = await this.transport.json<LxdOperation>(req);
    if (envelope.type === "async" && envelope.operation) await this.waitOperation(envelope.operation, wait);
  }

  private async optional<T>(call: () => Promise<LxdEnvelope<T>>): Promise<T | undefined> {
    try {
      return (await call()).metadata;
    } catch (error) {
      if (error instanceof LxdNotFoundError) return undefined;
      throw error;
    }
  }
}

/** doc/rest-api.md "Status codes": the states an operation reports; anything else is not an LXD operation. */
const OPERATION_STATUSES = ["Pending", "Running", "Cancelling", "Success", "Failure", "Cancelled"];

function checkOperation(what: string, value: unknown): LxdOperation {
  if (isRecord(value) && typeof value.status === "string" && OPERATION_STATUSES.includes(value.status))
    return value as unknown as LxdOperation;
  throw invalidResponse(
    "lxd",
    what,
    `expected an operation with a status (${OPERATION_STATUSES.join(", ")}), got ${describeValue(value)}`,
    undefined,
    undefined,
    "Is the socket really LXD's? Check LXD_SOCKET / the socket path option, and that LXD is a supported version (`lxc version`).",
  );
}

/** A recorded output's URL (.../logs/exec_<id>.stdout, or .../logs/exec-output/... on LXD 5): fetched and deleted next. */
const EXEC_OUTPUT = /^\/1\.0\/instances\/[^/?#\s]+\/logs\/[A-Za-z0-9._/-]+$/;

/** The exec operation's metadata: {return: exit code, output: {"1": url, "2": url}}. */
function checkExecResult(what: string, value: unknown): { return?: number; output?: Record<string, string> } {
  const meta = value ?? {};
  const ok =
    isRecord(meta) &&
    (meta.return === undefined || Number.isInteger(meta.return)) &&
    (meta.output === undefined ||
      (isRecord(meta.output) &&
        Object.values(meta.output).every(
          (p) => typeof p === "string" && EXEC_OUTPUT.test(p) && !p.includes(".."),
        )));
  if (ok) return meta as { return?: number; output?: Record<string, string> };
  throw invalidResponse(
    "lxd",
    what,
    `expected the exec result {return: exit code, output: {"1": "/1.0/instances/.../logs/..."}}, got ${describeValue(value)}`,
    undefined,
    undefined,
    "Is the socket really LXD's? Check LXD_SOCKET / the socket path option, and that LXD is a supported version (`lxc version`).",
  );
}

function execFailureCode(message: string): number | undefined {
  if (/Command not found/i.test(message)) return 127;
  if (/Command not executable|Permission denied/i.test(message)) return 126;
  return undefined;
}

/** Aliases contain "/" (labgate/debian-bookworm); LXD takes them as one path segment, escaped. */
function encodeAlias(name: string): string {
  return enc(name);
}
