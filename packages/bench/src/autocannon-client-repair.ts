import type { AutocannonClient } from "./autocannon.js";
import { BenchSetupError } from "./errors.js";

/**
 * The private parts of autocannon 9's `Client` (lib/httpClient.js) that the repair touches. They are
 * pinned by the `autocannon` ^9 dependency; `repairAutocannonClient` checks they exist.
 */
interface ClientInternals {
  _connect(): void;
  _doRequest(): void;
  _resetConnection(): void;
  destroyed: boolean;
  pipelinedRequests: { size(): number; clear(): void };
  parser: { initialize(type: string): void; constructor: { RESPONSE?: string } };
}

export interface RepairHooks {
  /** A request went out on a connection that closed before its response arrived: it is lost. */
  onLost(): void;
}

/**
 * autocannon 9 reconnects after a closed connection or a connection error without clearing its
 * queue of pending requests or its HTTP parser. The next response is then matched with a stale
 * request (latency measured from an old start, growing with every reconnect) or parsed from the
 * middle of an old one, and the request in flight is dropped without any event. A target that
 * restarts mid-run, or answers `Connection: close`, gets wrong latencies for the rest of the run.
 *
 * This resets the queue and the parser on every (re)connect, reports the lost request, honours
 * `Connection: close` by opening a new connection instead of writing to the one being closed, and
 * keeps a destroyed (stopped) client from sending or reconnecting.
 */
export function repairAutocannonClient(client: AutocannonClient, hooks: RepairHooks): void {
  const internals = client as unknown as ClientInternals;
  const connect = internals._connect;
  const doRequest = internals._doRequest;
  const responseType = internals.parser?.constructor?.RESPONSE;
  if (
    typeof connect !== "function" ||
    typeof doRequest !== "function" ||
    typeof internals._resetConnection !== "function" ||
    typeof internals.pipelinedRequests?.clear !== "function" ||
    typeof internals.parser?.initialize !== "function" ||
    typeof responseType !== "string"
  ) {
    throw new BenchSetupError(
      "BENCH_AUTOCANNON_UNSUPPORTED",
      "autocannon's client internals changed (expected autocannon 9): the closed-loop reconnect repair cannot be applied.",
      "Install the autocannon version @labgate/bench depends on (^9: `npm install autocannon@9`), or run with --engine net.",
    );
  }

  let failureReported = false;
  let closeAfterResponse = false;
  client.on("connError", () => {
    failureReported = true;
  });
  client.on("headers", (info) => {
    closeAfterResponse = info.shouldKeepAlive === false;
  });

  internals._connect = function repairedConnect(this: ClientInternals) {
    // autocannon's timeout handler reconnects even a destroyed client.
    if (this.destroyed) return;
    const lost = this.pipelinedRequests.size();
    this.pipelinedRequests.clear();
    this.parser.initialize(responseType);
    closeAfterResponse = false;
    // A connection error was already reported for the request it took down.
    if (lost > 0 && !failureReported) hooks.onLost();
    failureReported = false;
    connect.call(this);
  };

  internals._doRequest = function repairedDoRequest(this: ClientInternals) {
    // autocannon sends the next request right after a response even on a destroyed client (and
    // restarts its timeout timer, which would reconnect it); a stopped client sends nothing.
    if (this.destroyed) return;
    if (closeAfterResponse) {
      closeAfterResponse = false;
      // Calls _connect, which sends the request on the new connection.
      this._resetConnection();
      return;
    }
    doRequest.call(this);
  };
}
