import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type Engine, EngineSlot, type EngineSpec, type SlotFactory } from "./engine-core.js";
import { BenchEngineError } from "./errors.js";
import { Http1ResponseParser, PARSE_DONE, PARSE_MORE } from "./http1-response-parser.js";

/** What every connection of one engine shares: where to connect and the request's bytes, built once. */
interface Shared {
  host: string;
  port: number;
  tls: { servername: string | undefined; rejectUnauthorized: boolean } | null;
  request: Buffer;
  isHead: boolean;
  backendHeader: string;
  /** One read buffer for all connections of the thread: each read is parsed before the next one lands. */
  readBuffer: Buffer;
}

/**
 * One keep-alive TCP (or TLS) connection speaking HTTP/1.1 with pipelining 1: the request is
 * written as pre-built bytes, the response read by a strict parser. A response that asks to close
 * (or that is framed by the close) ends the connection; the next request opens a new one.
 */
class NetSlot extends EngineSlot {
  private socket: Socket | null = null;
  private readonly parser: Http1ResponseParser;

  constructor(
    engine: Engine,
    private readonly shared: Shared,
  ) {
    super(engine);
    this.parser = new Http1ResponseParser(shared.backendHeader);
  }

  protected dispatch(): void {
    this.parser.begin(this.shared.isHead);
    // A kept-alive connection the server has already ended (its close not yet seen) is not reused.
    if (this.socket && !this.socket.writable) this.drop();
    const socket = this.socket ?? this.open();
    // Before the connect completes the socket queues the bytes.
    socket.write(this.shared.request);
  }

  private open(): Socket {
    const { host, port, tls } = this.shared;
    let socket: Socket;
    if (tls) {
      socket = tlsConnect({
        host,
        port,
        ...(tls.servername ? { servername: tls.servername } : {}),
        rejectUnauthorized: tls.rejectUnauthorized,
        ALPNProtocols: ["http/1.1"],
      });
      socket.on("data", (chunk: Buffer) => this.onBytes(socket, chunk, chunk.length));
    } else {
      socket = netConnect({
        host,
        port,
        onread: {
          buffer: this.shared.readBuffer,
          callback: (n: number, buf: Uint8Array) => {
            this.onBytes(socket, buf as Buffer, n);
            return true;
          },
        },
      });
    }
    socket.setNoDelay(true);
    socket.on("error", (err: NodeJS.ErrnoException) => this.onSocketEnd(socket, err.code ?? err.message));
    socket.on("close", () => this.onSocketEnd(socket, "ECONNRESET"));
    this.socket = socket;
    return socket;
  }

  private onBytes(socket: Socket, buf: Buffer, n: number): void {
    if (socket !== this.socket) return;
    if (!this.busy) {
      // Bytes nobody asked for (after a complete response): the connection cannot be trusted.
      this.drop();
      return;
    }
    const outcome = this.parser.execute(buf, 0, n);
    if (outcome === PARSE_MORE) return;
    const end = performance.now();
    this.bytes = this.parser.bytes;
    if (outcome === PARSE_DONE) {
      this.status = this.parser.status;
      this.backend = this.parser.backend;
      // Anything after the response was not asked for: count the response, not the connection.
      if (!this.parser.keepAlive || this.parser.consumed !== n) this.drop();
      this.complete(end);
    } else {
      this.drop();
      this.fail(end, this.parser.error);
    }
  }

  /** The connection failed or closed: what was in flight completes (body until close) or fails. */
  private onSocketEnd(socket: Socket, code: string): void {
    if (socket !== this.socket) return;
    this.drop();
    if (!this.busy) return;
    const end = performance.now();
    this.bytes = this.parser.bytes;
    if (this.parser.finishOnClose()) {
      this.status = this.parser.status;
      this.backend = this.parser.backend;
      this.complete(end);
    } else {
      this.fail(end, code);
    }
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
  }

  abortExchange(): void {
    this.drop();
    this.fail(performance.now(), "ETIMEDOUT");
  }

  async close(): Promise<void> {
    this.drop();
  }
}

/** Connections on node:net (node:tls for https) with the request's bytes built once. */
export function netSlots(spec: EngineSpec): SlotFactory {
  const url = new URL(spec.url);
  const https = url.protocol === "https:";
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const shared: Shared = {
    host,
    port: Number(url.port || (https ? 443 : 80)),
    tls: https
      ? {
          // SNI takes a name, never an address.
          servername: /^[\d.]+$|:/.test(host) ? undefined : host,
          rejectUnauthorized: !spec.insecure,
        }
      : null,
    request: requestBytes(spec, url),
    isHead: spec.method.toUpperCase() === "HEAD",
    backendHeader: spec.backendHeader,
    readBuffer: Buffer.allocUnsafe(64 * 1024),
  };
  return (engine) => new NetSlot(engine, shared);
}

/** The whole request as it goes on the wire: request line, Host, the given headers, body. */
export function requestBytes(spec: Pick<EngineSpec, "method" | "headers" | "body">, url: URL): Buffer {
  const lines = [`${spec.method} ${url.pathname}${url.search} HTTP/1.1`];
  let hasHost = false;
  for (let i = 0; i + 1 < spec.headers.length; i += 2) {
    const name = spec.headers[i]!;
    const value = spec.headers[i + 1]!;
    if (/[\r\n:]|^$/.test(name) || /[\r\n]/.test(value)) {
      throw new BenchEngineError(
        `request header ${JSON.stringify(name)} cannot be sent: it holds a line break or colon`,
      );
    }
    if (name.toLowerCase() === "host") hasHost = true;
    lines.push(`${name}: ${value}`);
  }
  if (!hasHost) lines.splice(1, 0, `host: ${url.host}`);
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return spec.body ? Buffer.concat([head, spec.body]) : head;
}
