import { request as httpRequest, type IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describeValue, invalidResponse, isRecord } from "../../adapters/response-shape.js";
import { LabgateError } from "../../errors.js";
import { LxdApiError, LxdNotFoundError, LxdTimeoutError, LxdUnreachableError } from "./lxd-errors.js";
import { findLxdSocket, lxdSocketCandidates } from "./socket-path.js";

export interface LxdTransportOptions {
  /** Path of LXD's unix socket; default: LXD_SOCKET, $LXD_DIR/unix.socket, snap, then /var/lib/lxd. */
  socketPath?: string;
  /** LXD project for every request (default: LXD's own default project). */
  project?: string;
  /** Deadline of one HTTP exchange (not of the operations it starts). Default 60 s. */
  requestTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface LxdRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** API path with its query, e.g. "/1.0/instances/app1/state". */
  path: string;
  /** A JSON value, raw bytes, or a stream (image upload). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** LXD's response envelope (sync, async or error). */
export interface LxdEnvelope<T = unknown> {
  type: "sync" | "async" | "error";
  status?: string;
  status_code?: number;
  operation?: string;
  error_code?: number;
  error?: string;
  metadata: T;
}

export interface RawResponse {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/**
 * HTTP over LXD's unix socket with node:http: no `lxc` client, so no snap home-directory
 * confinement and no output scraping. Every failure becomes a labgate error naming the request.
 */
export class LxdTransport {
  readonly candidates: string[];
  readonly project: string | undefined;
  private readonly requestTimeoutMs: number;
  private resolved: string | undefined;

  constructor(options: LxdTransportOptions = {}) {
    this.candidates = lxdSocketCandidates(options.socketPath, options.env);
    this.project = options.project;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  }

  /** The socket in use; throws LXD_UNREACHABLE naming every path tried when none exists. */
  socketPath(): string {
    if (this.resolved) return this.resolved;
    const found = findLxdSocket(this.candidates);
    if (!found) {
      throw new LxdUnreachableError(
        `LXD is not reachable: no LXD socket at ${this.candidates.join(" or ")}.`,
        this.candidates,
        { hint: START_HINT },
      );
    }
    this.resolved = found;
    return found;
  }

  /** A JSON request; returns LXD's envelope. Errors (4xx/5xx) are thrown as labgate errors. */
  async json<T>(req: LxdRequest): Promise<LxdEnvelope<T>> {
    const raw = await this.raw(req);
    return parseEnvelope<T>(req, raw);
  }

  /** The request as bytes (file downloads, exec logs); error envelopes are still mapped. */
  async raw(req: LxdRequest): Promise<RawResponse> {
    const socketPath = this.socketPath();
    const path = this.withProject(req.path);
    const { payload, contentType } = encodeBody(req.body);
    const headers: Record<string, string> = {
      ...(contentType ? { "content-type": contentType } : {}),
      ...req.headers,
    };
    const timeoutMs = req.timeoutMs ?? this.requestTimeoutMs;

    const response = await new Promise<RawResponse>((resolve, reject) => {
      const r = httpRequest(
        { socketPath, path, method: req.method, headers: { host: "lxd", ...headers }, signal: req.signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on("error", reject);
        },
      );
      r.setTimeout(timeoutMs, () =>
        r.destroy(
          new LxdTimeoutError(`LXD did not answer ${req.method} ${req.path} within ${timeoutMs / 1000} s.`, {
            hint: `Check that the LXD daemon is not stuck: \`lxc info\`, and ${LXD_LOG_HINT}.`,
          }),
        ),
      );
      r.on("error", (error) => reject(mapSocketError(error, socketPath, req)));
      if (payload === undefined) r.end();
      else if (isReadable(payload)) pipeline(payload, r).catch((error: unknown) => r.destroy(error as Error));
      else r.end(payload);
    });

    if (response.status >= 400) throw mapHttpError(req, response);
    return response;
  }

  private withProject(path: string): string {
    if (!this.project) return path;
    return `${path}${path.includes("?") ? "&" : "?"}project=${encodeURIComponent(this.project)}`;
  }
}

const START_HINT =
  "Start the daemon the way it is installed (package: `systemctl start lxd`; snap: `snap start lxd`; a binary: " +
  "`lxd --logfile <file> &`), then `lxd waitready --timeout 60`; or point labgate at the socket with " +
  "LXD_SOCKET=/path/to/unix.socket.";

/** Where LXD logs depends on how it runs; the running daemon's own arguments say it for a hand-started one. */
export const LXD_LOG_HINT =
  "its log (snap: /var/snap/lxd/common/lxd/logs/lxd.log; package: `journalctl -u lxd`; started by hand: the " +
  "--logfile shown by `ps -o args= -C lxd`)";

function encodeBody(body: unknown): { payload: Buffer | Readable | undefined; contentType?: string } {
  if (body === undefined) return { payload: undefined };
  if (Buffer.isBuffer(body) || body instanceof Uint8Array)
    return { payload: Buffer.from(body), contentType: "application/octet-stream" };
  if (isReadable(body)) return { payload: body };
  return { payload: Buffer.from(JSON.stringify(body)), contentType: "application/json" };
}

function isReadable(value: unknown): value is Readable {
  return typeof value === "object" && value !== null && typeof (value as Readable).pipe === "function";
}

function mapSocketError(error: unknown, socketPath: string, req: LxdRequest): unknown {
  if (error instanceof LabgateError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM") {
    return new LxdUnreachableError(`Permission denied opening the LXD socket ${socketPath}.`, [socketPath], {
      cause: error,
      hint:
        "Run as root, or add your user to the group that owns the socket (`ls -l " +
        socketPath +
        "`; usually `lxd`): `sudo usermod -aG lxd $USER` then log in again.",
    });
  }
  if (code === "ENOENT" || code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") {
    return new LxdUnreachableError(
      `LXD is not answering on ${socketPath} (${code}) for ${req.method} ${req.path}.`,
      [socketPath],
      { cause: error, hint: START_HINT },
    );
  }
  return error;
}

/**
 * LXD's answers are envelopes (doc/rest-api.md, "Return values"): {type: "sync", metadata} or {type: "async",
 * operation: "/1.0/operations/<uuid>"}. Anything else (a proxy's page, another server on the socket) is refused
 * here, before an operation path or an instance state is built from it.
 */
function parseEnvelope<T>(req: LxdRequest, raw: RawResponse): LxdEnvelope<T> {
  const text = raw.body.toString("utf8");
  const what = `${req.method} ${req.path.split("?")[0]}`;
  const refuse = (problem: string, cause?: unknown): never => {
    const error = invalidResponse(
      "lxd",
      what,
      problem,
      { status: raw.status, headers: raw.headers, text },
      "the LXD socket, not an HTTP proxy",
      "Is the socket really LXD's? Check LXD_SOCKET / the socket path option, and that LXD is a supported version (`lxc version`); the start of the answer is in the details.",
    );
    throw cause === undefined ? error : Object.assign(error, { cause });
  };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    refuse(
      text.trim() === ""
        ? "an empty body"
        : `a non-JSON body (${String(raw.headers["content-type"] ?? "no content type")})`,
      error,
    );
  }
  if (!isRecord(body) || (body.type !== "sync" && body.type !== "async"))
    refuse(`expected a sync or async envelope, got ${describeValue(body)}`);
  const envelope = body as Record<string, unknown>;
  if (
    envelope.type === "async" &&
    (typeof envelope.operation !== "string" || !OPERATION_PATH.test(envelope.operation))
  )
    refuse(
      `an async envelope needs operation "/1.0/operations/<id>", got ${describeValue(envelope.operation)}`,
    );
  return envelope as unknown as LxdEnvelope<T>;
}

/** An operation's URL as LXD returns it (a UUID; a project query may follow). */
export const OPERATION_PATH = /^\/1\.0\/operations\/[A-Za-z0-9-]{1,64}(\?[A-Za-z0-9=&_.-]*)?$/;

function mapHttpError(req: LxdRequest, raw: RawResponse): Error {
  let text = raw.body.toString("utf8").trim();
  try {
    const envelope = JSON.parse(text) as Partial<LxdEnvelope>;
    if (envelope.error) text = envelope.error;
  } catch {
    // not JSON: keep the body text
  }
  const what = `${req.method} ${req.path.split("?")[0]}`;
  if (raw.status === 404) {
    return new LxdNotFoundError(
      req.path.split("?")[0] ?? req.path,
      `LXD: ${text || "not found"} (${what}).`,
      {
        hint: "List what exists with `lxc list`, `lxc network list`, `lxc image list` or `lxc storage list`.",
      },
    );
  }
  if (raw.status === 403) {
    return new LxdUnreachableError(`LXD refused ${what}: ${text || "forbidden"}.`, [], {
      hint: "This user may not use LXD (or this project): run as root or join the lxd group.",
    });
  }
  return new LxdApiError(raw.status, `LXD rejected ${what} (HTTP ${raw.status}): ${text || "no message"}.`, {
    hint: "The message above is LXD's own; `lxc info --show-log <instance>` or the daemon log often says more.",
  });
}
