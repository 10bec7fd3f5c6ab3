import { CONNECTION_RAMP_TICK_MS, ConnectionRamp, type ConnectionRampSpec } from "./connection-ramp.js";
import { LATE_THRESHOLD_MS } from "./late-threshold.js";
import { preciseLoop } from "./precise-loop.js";
import type { Recorder } from "./recorder.js";
import { RampSchedule } from "./stages.js";
import type { Stage } from "./types.js";

/** First and longest pause of a connection whose connect failed (refused, unreachable, reset). */
const BACKOFF_MIN_MS = 10;
const BACKOFF_MAX_MS = 1000;
export const CONNECT_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "EPIPE",
  // TLS: the handshake failed (certificate not trusted, TLS spoken to a plain-HTTP port). Retrying
  // at once would only repeat the handshake as fast as the CPU allows.
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "EPROTO",
]);

/** What one engine instance (one thread) runs. Times are this thread's performance.now(). */
export interface EngineSpec {
  /** The HTTP client under the connections: "net" (labgate's own on node:net) or "undici". */
  client: EngineClient;
  url: string;
  method: string;
  /** Request headers as a flat [name, value, ...] list, built once. */
  headers: string[];
  body: Uint8Array | null;
  connections: number;
  /** This instance's share of the rate; null = closed loop. */
  rate: number | null;
  /** Constant rate: this instance sends requests k, k+stride, k+2·stride ... of the global schedule. */
  scheduleOffset: number;
  scheduleStride: number;
  /** Ramping arrival rate: the whole run's schedule (warm-up at `startRate`, then the stages); null = constant. */
  ramp?: { startRate: number; warmupMs: number; stages: Stage[] } | null;
  /** Closed loop ramping its connections (k6 ramping-vus); null or absent: every connection runs throughout. */
  connectionRamp?: ConnectionRampSpec | null;
  timeoutMs: number;
  backendHeader: string;
  insecure: boolean;
  runStartMs: number;
  warmupEndMs: number;
  endMs: number;
}

export type EngineClient = "net" | "undici";

/**
 * One keep-alive connection and the exchange on it (pipelining 1), reused for every request. The
 * client-specific part sends and reports back through complete() and fail(); the scheduling,
 * timing and recording are the engine's.
 */
export abstract class EngineSlot {
  busy = false;
  /** performance.now() before which the connection is backing off after a failed connect. */
  backoffUntil = 0;
  backoffMs = 0;
  startMs = 0;
  windowMs = 0;
  sentMs = 0;
  status = 0;
  bytes = 0;
  backend: string | undefined;
  timedOut = false;
  onDone: (slot: EngineSlot) => void = () => {};

  constructor(protected readonly engine: Engine) {}

  /** Starts the next request on this connection. */
  send(startMs: number, windowMs: number): void {
    this.busy = true;
    this.startMs = startMs;
    this.windowMs = windowMs;
    this.sentMs = performance.now();
    this.status = 0;
    this.bytes = 0;
    this.backend = undefined;
    this.timedOut = false;
    this.dispatch();
  }

  /** Sends the engine's request on this connection (opening it when needed). */
  protected abstract dispatch(): void;
  /** The exchange took longer than the timeout: end it; it must end in fail() (now or soon). */
  abstract abortExchange(): void;
  abstract close(): Promise<void>;

  /** The response is complete (status, bytes and backend set). */
  protected complete(end: number): void {
    this.busy = false;
    this.backoffMs = 0;
    this.engine.recordResponse(this, end);
    this.onDone(this);
  }

  protected fail(end: number, errorCode: string): void {
    this.busy = false;
    const code = this.timedOut ? "ETIMEDOUT" : errorCode;
    if (!this.timedOut && CONNECT_ERRORS.has(code) && this.status === 0) {
      // Nothing came back on this connection: wait before the next attempt instead of spinning.
      this.backoffMs = this.backoffMs ? Math.min(BACKOFF_MAX_MS, this.backoffMs * 2) : BACKOFF_MIN_MS;
      this.backoffUntil = end + this.backoffMs;
      this.engine.lastConnectError = code;
    }
    this.engine.recordFailure(this, end, code);
    this.onDone(this);
  }
}

/** Builds one connection of an engine (the client module is loaded only when chosen). */
export type SlotFactory = (engine: Engine) => EngineSlot;

/**
 * labgate's own load engine for one thread: `connections` slots of one HTTP client (net or undici),
 * the request built once, every response timed with performance.now() and recorded in this
 * thread's `Recorder` (HDR histograms, per-backend counts). Closed loop or constant rate.
 */
export class Engine {
  private readonly slots: EngineSlot[] = [];
  private stopped = false;
  private measuring: boolean;

  constructor(
    readonly spec: EngineSpec,
    private readonly recorder: Recorder,
    private readonly makeSlot: SlotFactory,
  ) {
    for (let i = 0; i < spec.connections; i++) this.slots.push(makeSlot(this));
    this.measuring = performance.now() >= spec.warmupEndMs;
  }

  recordResponse(slot: EngineSlot, end: number): void {
    if (this.stopped) return;
    if (this.spec.rate === null && end > this.spec.endMs) {
      // Closed loop counts only what completed inside the window.
      return;
    }
    this.recorder.recordResponse(
      slot.startMs,
      end,
      Math.round((end - slot.sentMs) * 1000),
      slot.status,
      slot.bytes,
      slot.backend,
      slot.windowMs,
    );
  }

  recordFailure(slot: EngineSlot, end: number, code: string): void {
    if (this.stopped) return;
    if (this.spec.rate === null && end > this.spec.endMs) return;
    this.recorder.recordFailure(slot.windowMs, end, slot.timedOut ? "timeout" : "error", code);
  }

  /** Runs until the window ends (closed loop) or every due request is answered or timed out (constant rate). */
  async run(signal: AbortSignal | undefined): Promise<{ aborted: boolean }> {
    let aborted = false;
    const onAbort = () => {
      aborted = true;
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const warmupTimer = setTimeout(
      () => {
        this.measuring = true;
      },
      Math.max(0, this.spec.warmupEndMs - performance.now()),
    );
    const sweep = setInterval(
      () => this.sweepTimeouts(),
      Math.max(5, Math.min(100, this.spec.timeoutMs / 4)),
    );
    try {
      if (this.spec.rate === null) await this.closedLoop(() => aborted, signal);
      else await this.constantRate(() => aborted);
    } finally {
      clearTimeout(warmupTimer);
      clearInterval(sweep);
      signal?.removeEventListener("abort", onAbort);
      this.stopped = true;
      await Promise.all(this.slots.map((s) => s.close().catch(() => {})));
    }
    return { aborted };
  }

  private sweepTimeouts(): void {
    const now = performance.now();
    for (const slot of this.slots) {
      if (slot.busy && !slot.timedOut && now - slot.sentMs > this.spec.timeoutMs) {
        slot.timedOut = true;
        slot.abortExchange();
      }
    }
    if (this.spec.rate !== null) this.expireQueue(now);
  }

  // Closed loop: every connection sends its next request when the previous one is complete.
  private closedLoop(isAborted: () => boolean, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let finished = false;
      // A connection ramp: slot j runs while j is below this thread's share of the connections the
      // ramp wants; the others rest with their connection closed until it wants them again.
      const ramp = this.spec.connectionRamp
        ? new ConnectionRamp(this.spec.connectionRamp, this.spec.runStartMs)
        : null;
      const position = new Map<EngineSlot, number>();
      const resting = new Set<number>();
      let rampTimer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearInterval(rampTimer);
        signal?.removeEventListener("abort", finish);
        resolve();
      };
      const next = (slot: EngineSlot) => {
        if (finished || isAborted()) return finish();
        const now = performance.now();
        if (now >= this.spec.endMs) return finish();
        if (ramp) {
          // Only an idle slot gets here: a connection being removed finishes its request first.
          const j = position.get(slot)!;
          if (j >= ramp.local(now)) {
            resting.add(j);
            void slot.close().catch(() => {});
            return;
          }
        }
        if (slot.backoffUntil > now) {
          setTimeout(() => next(slot), slot.backoffUntil - now);
          return;
        }
        if (this.measuring) this.recorder.countSend();
        slot.send(now, now);
      };
      const wake = () => {
        if (finished || resting.size === 0) return;
        const want = ramp!.local(performance.now());
        for (const j of [...resting].sort((a, b) => a - b)) {
          if (j >= want) break;
          // A closed client cannot be reused (undici): the connection comes back as a new slot.
          resting.delete(j);
          const fresh = this.makeSlot(this);
          fresh.onDone = next;
          position.set(fresh, j);
          this.slots[j] = fresh;
          next(fresh);
        }
      };
      this.slots.forEach((slot, j) => {
        slot.onDone = next;
        position.set(slot, j);
      });
      const timer = setTimeout(finish, Math.max(0, this.spec.endMs - performance.now()));
      signal?.addEventListener("abort", finish, { once: true });
      if (ramp) rampTimer = setInterval(wake, CONNECTION_RAMP_TICK_MS);
      for (const slot of [...this.slots]) next(slot);
    });
  }

  // Constant rate: due requests queue (with the time they were noticed) while all connections are busy.
  private queue: Array<{ scheduledMs: number; noticedMs: number }> = [];
  private queueHead = 0;

  private async constantRate(isAborted: () => boolean): Promise<void> {
    const spec = this.spec;
    const intervalMs = 1000 / (spec.rate! * spec.scheduleStride);
    let i = 0;
    const ramp = spec.ramp
      ? new RampSchedule(spec.ramp.startRate, [
          { durationMs: spec.ramp.warmupMs, target: spec.ramp.startRate },
          ...spec.ramp.stages,
        ])
      : null;
    const dueAt = ramp
      ? (n: number) => spec.runStartMs + ramp.arrivalMs(n * spec.scheduleStride + spec.scheduleOffset)
      : (n: number) => spec.runStartMs + (n * spec.scheduleStride + spec.scheduleOffset) * intervalMs;
    for (const slot of this.slots) slot.onDone = (s) => this.pull(s);

    // A thread may get no arrival at all from a short ramp: nothing to wait for.
    if (dueAt(0) < spec.endMs)
      await preciseLoop(dueAt(0), (now) => {
        let due = dueAt(i);
        while (due <= now && due < spec.endMs && !isAborted()) {
          this.dispatchDue(due, now);
          i++;
          due = dueAt(i);
        }
        return isAborted() || due >= spec.endMs ? null : due;
      });

    // Every request due in the window gets its answer or its timeout; then whatever hangs fails.
    const drainUntil = performance.now() + spec.timeoutMs + 1000;
    while (performance.now() < drainUntil && (this.pending() > 0 || this.slots.some((s) => s.busy))) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const now = performance.now();
    this.expireQueue(Number.POSITIVE_INFINITY);
    for (const slot of this.slots) {
      if (slot.busy) {
        this.recorder.recordFailure(slot.windowMs, now, "timeout", "ETIMEDOUT");
        slot.busy = false;
      }
    }
    this.stopped = true;
  }

  private pending(): number {
    return this.queue.length - this.queueHead;
  }

  private dispatchDue(scheduledMs: number, noticedMs: number): void {
    let idle: EngineSlot | undefined;
    let anyLive = false;
    for (const slot of this.slots) {
      if (slot.busy) {
        anyLive = true;
      } else if (slot.backoffUntil <= noticedMs) {
        idle = slot;
        break;
      }
    }
    if (idle && this.pending() === 0) {
      this.recorder.recordSend(scheduledMs, noticedMs, noticedMs, LATE_THRESHOLD_MS);
      idle.send(noticedMs, scheduledMs);
      return;
    }
    if (!idle && !anyLive) {
      // Every connection is backing off after failed connects: fail the request without an attempt.
      this.recorder.recordSend(scheduledMs, noticedMs, noticedMs, LATE_THRESHOLD_MS);
      this.recorder.recordFailure(scheduledMs, noticedMs, "error", this.lastConnectError ?? "ECONNREFUSED");
      this.scheduleWake();
      return;
    }
    this.queue.push({ scheduledMs, noticedMs });
    if (idle) this.pull(idle);
    // Connections backing off must come back for the queue even if no busy one ever frees up.
    else this.scheduleWake();
  }

  /** Why the last connect failed: what a request due while every connection backs off fails with. */
  lastConnectError: string | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;

  /** A backing-off connection becomes usable again: let it take queued work. */
  private scheduleWake(): void {
    if (this.wakeTimer) return;
    const waiting = this.slots.filter((s) => !s.busy && s.backoffUntil > 0);
    if (waiting.length === 0) return;
    const soonest = Math.min(...waiting.map((s) => s.backoffUntil));
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        for (const slot of this.slots) if (!slot.busy) this.pull(slot);
      },
      Math.max(0, soonest - performance.now()),
    );
  }

  /** A connection is free: it takes the oldest queued request, if any. */
  private pull(slot: EngineSlot): void {
    if (this.stopped || slot.busy) return;
    const now = performance.now();
    if (slot.backoffUntil > now) {
      if (this.pending() === 0) return;
      // Every connection is backing off: what waits fails now, as a new due request would.
      if (!this.slots.some((s) => s.busy)) this.failQueued(now);
      else this.scheduleWake();
      return;
    }
    this.expireQueue(now);
    if (this.pending() === 0) return;
    const item = this.queue[this.queueHead++]!;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.recorder.recordSend(item.scheduledMs, item.noticedMs, now, LATE_THRESHOLD_MS);
    slot.send(item.noticedMs, item.scheduledMs);
  }

  private failQueued(now: number): void {
    while (this.pending() > 0) {
      const item = this.queue[this.queueHead++]!;
      this.recorder.recordSend(item.scheduledMs, item.noticedMs, now, LATE_THRESHOLD_MS);
      this.recorder.recordFailure(item.scheduledMs, now, "error", this.lastConnectError ?? "ECONNREFUSED");
    }
    this.queue = [];
    this.queueHead = 0;
  }

  /** Queued requests that waited longer than the timeout have failed (their send is still counted). */
  private expireQueue(now: number): void {
    while (this.pending() > 0) {
      const item = this.queue[this.queueHead]!;
      if (now - item.noticedMs <= this.spec.timeoutMs) break;
      this.queueHead++;
      this.recorder.recordSend(item.scheduledMs, item.noticedMs, now, LATE_THRESHOLD_MS);
      this.recorder.recordFailure(
        item.scheduledMs,
        Math.min(now, item.noticedMs + this.spec.timeoutMs),
        "timeout",
        "ETIMEDOUT",
      );
    }
  }
}
