import { Client, type Dispatcher } from "undici";
import { type Engine, EngineSlot, type EngineSpec, type SlotFactory } from "./engine-core.js";

/** What every connection of one engine shares: the request options, built once. */
interface Shared {
  origin: string;
  options: Client.Options;
  request: Dispatcher.DispatchOptions;
  headerName: Buffer;
  headerLower: string;
}

/** One undici `Client` per connection, driven through its public dispatch API. */
class UndiciSlot extends EngineSlot implements Dispatcher.DispatchHandler {
  private readonly client: Client;
  private abort: ((err?: Error) => void) | null = null;

  constructor(
    engine: Engine,
    private readonly shared: Shared,
  ) {
    super(engine);
    this.client = new Client(shared.origin, shared.options);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode;
    const wanted = this.shared.headerName;
    let bytes = 17;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const value = rawHeaders[i + 1]!;
      bytes += name.length + value.length + 4;
      if (
        this.backend === undefined &&
        name.length === wanted.length &&
        (name.equals(wanted) || name.toString("latin1").toLowerCase() === this.shared.headerLower)
      ) {
        this.backend = value.toString("latin1");
      }
    }
    this.bytes += bytes + 2;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return true;
  }

  onComplete(): void {
    this.complete(performance.now());
  }

  onError(err: Error): void {
    const end = performance.now();
    // After undici has finished failing this request: a request dispatched from inside its error
    // handling trips its own assertion (client[kSize] === 0) and takes the process down.
    queueMicrotask(() => this.fail(end, errorCode(err)));
  }

  protected dispatch(): void {
    this.abort = null;
    this.client.dispatch(this.shared.request, this);
  }

  abortExchange(): void {
    this.abort?.(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" }));
  }

  async close(): Promise<void> {
    await this.client.destroy();
  }
}

function errorCode(err: Error): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  return e.cause?.code ?? e.code ?? e.message;
}

/** Connections on undici's dispatch API: one `Client` each, the request options built once. */
export function undiciSlots(spec: EngineSpec): SlotFactory {
  const url = new URL(spec.url);
  const headerLower = spec.backendHeader.toLowerCase();
  const shared: Shared = {
    origin: url.origin,
    request: {
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: spec.method as Dispatcher.HttpMethod,
      headers: spec.headers,
      ...(spec.body ? { body: spec.body } : {}),
    },
    headerLower,
    headerName: Buffer.from(headerLower, "latin1"),
    // Whole-exchange timeouts are enforced by the engine's sweep; undici's idle timeouts are a backstop.
    options: {
      pipelining: 1,
      headersTimeout: spec.timeoutMs * 2,
      bodyTimeout: spec.timeoutMs * 2,
      keepAliveTimeout: 60_000,
      connectTimeout: spec.timeoutMs,
      ...(url.protocol === "https:" ? { connect: { rejectUnauthorized: !spec.insecure } } : {}),
    },
  };
  return (e) => new UndiciSlot(e, shared);
}
