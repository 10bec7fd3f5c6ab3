import { createHistogram, decodeHistogram, encodeHistogram, type Histogram, summarize } from "./histogram.js";
import type { BackendStats, JitterSummary, LatencySummary, RequestCounts, SeriesPoint } from "./types.js";

export const JITTER_DEFINITION =
  "jitter = mean absolute difference between the latencies of consecutive responses in completion order (|L[i] − L[i−1]|, averaged); reported with the latency standard deviation and the p99 − p50 spread.";

export interface RecorderOptions {
  /** performance.now() at the start of the run (warm-up included). */
  runStartMs: number;
  /** Requests whose send time is before this are warm-up: sent, never counted. */
  warmupEndMs: number;
  /** Series bucket width; doubles when more than `maxPoints` buckets would be kept. */
  intervalMs?: number;
  maxPoints?: number;
  /** Keep a separate service-time histogram (constant rate). Closed loop: service time is the latency. */
  separateServiceTime?: boolean;
  /**
   * Worker mode: each closed series bucket is handed over raw (its histogram encoded) instead of
   * becoming a point here, so the parent can merge the buckets of every worker exactly.
   */
  onBucket?: (bucket: RawBucket) => void;
}

/** One series interval as a worker recorded it, mergeable with the same interval of other workers. */
export interface RawBucket {
  /** Start of the interval in ms since the run's start. */
  tStartMs: number;
  histogram: string;
  count: number;
  bytes: number;
  errors: number;
  failures: number;
  jitterSum: number;
  jitterN: number;
  /** Responses per backend label in this interval (absent from workers of an older build). */
  backends?: Array<[string, number]>;
  /** Errors by kind in this interval: the transport code (ECONNRESET, ETIMEDOUT …) or "HTTP <status>". */
  errorKinds?: Array<[string, number]>;
}

/** Everything but the series, in a form that crosses a worker boundary and merges exactly. */
export interface RecorderTotals {
  latency: string;
  service: string | null;
  sendLag: string;
  generatorLag: string;
  statusCounts: Array<[number, number]>;
  backends: Array<[string, number, string]>;
  unlabeled: number;
  sent: number;
  responses: number;
  bytes: number;
  timeouts: number;
  connectionErrors: number;
  errorsByCode: Array<[string, number]>;
  lateSends: number;
  jitterSum: number;
  jitterN: number;
}

export type FailureKind = "timeout" | "error";

/**
 * Everything a run records, in memory that does not grow with the number of requests: HDR
 * histograms (µs), counters, and one series point per interval (coalesced past `maxPoints`).
 * `start` is when the request was scheduled (constant rate) or sent (closed loop).
 */
export class Recorder {
  readonly latency: Histogram = createHistogram();
  private readonly service: Histogram;
  /** Scheduled send → actual send: the generator's lag plus any wait for a free connection. */
  readonly sendLag: Histogram = createHistogram();
  /** Scheduled send → the moment the generator noticed it was due: the generator's own (timer) lag. */
  readonly generatorLag: Histogram = createHistogram();
  private readonly onBucket: ((bucket: RawBucket) => void) | undefined;
  readonly warmupEndMs: number;
  private readonly runStartMs: number;
  private intervalMs: number;
  private readonly maxPoints: number;

  private readonly statusCounts = new Uint32Array(600);
  private readonly backends = new Map<string, { count: number; hist: Histogram }>();
  private unlabeled = 0;
  sent = 0;
  responses = 0;
  private bytes = 0;
  private timeouts = 0;
  private connectionErrors = 0;
  private readonly errorsByCode = new Map<string, number>();
  lateSends = 0;

  private prevLatencyUs = -1;
  private jitterSum = 0;
  private jitterN = 0;

  private readonly points: SeriesPoint[] = [];
  private bucketIndex = 0;
  private readonly bucketHist: Histogram = createHistogram();
  private bucketCount = 0;
  private bucketBytes = 0;
  private bucketErrors = 0;
  private bucketFailures = 0;
  private bucketJitterSum = 0;
  private bucketJitterN = 0;
  private readonly bucketBackends = new Map<string, number>();
  private readonly bucketErrorKinds = new Map<string, number>();

  /** All completions and failures, warm-up included (for progress display). */
  completedAll = 0;
  failedAll = 0;

  constructor(options: RecorderOptions) {
    this.runStartMs = options.runStartMs;
    this.warmupEndMs = options.warmupEndMs;
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxPoints = options.maxPoints ?? 3600;
    this.service = options.separateServiceTime ? createHistogram() : this.latency;
    this.onBucket = options.onBucket;
  }

  isMeasured(startMs: number): boolean {
    return startMs >= this.warmupEndMs;
  }

  /**
   * Constant rate: a request due at `scheduledMs` was noticed as due by the generator at `noticedMs`
   * (its timer lag) and went out at `sentMs` (later when it had to wait for a free connection).
   */
  recordSend(scheduledMs: number, noticedMs: number, sentMs: number, lateThresholdMs: number): void {
    if (scheduledMs < this.warmupEndMs) return;
    this.sent++;
    const lag = sentMs - scheduledMs;
    this.sendLag.recordValue(lag > 0 ? Math.round(lag * 1000) : 0);
    const own = noticedMs - scheduledMs;
    this.generatorLag.recordValue(own > 0 ? Math.round(own * 1000) : 0);
    if (lag > lateThresholdMs) this.lateSends++;
  }

  /** Closed loop: one more request went out (call only for sends after the warm-up). */
  countSend(): void {
    this.sent++;
  }

  recordResponse(
    startMs: number,
    endMs: number,
    serviceUs: number,
    status: number,
    bytes: number,
    backend: string | undefined,
    /** When the request belongs to the warm-up or the window by (constant rate: its scheduled time). */
    windowMs: number = startMs,
  ): void {
    this.completedAll++;
    let latencyUs = Math.round((endMs - startMs) * 1000);
    if (latencyUs < 1) latencyUs = 1;
    const measured = windowMs >= this.warmupEndMs;
    this.advance(endMs);
    this.bucketCount++;
    this.bucketBytes += bytes;
    this.bucketHist.recordValue(latencyUs);
    if (backend !== undefined) addCount(this.bucketBackends, backend, 1);
    if (status >= 400) {
      this.bucketErrors++;
      addCount(this.bucketErrorKinds, `HTTP ${status}`, 1);
    }
    if (!measured) return;

    this.responses++;
    this.bytes += bytes;
    this.latency.recordValue(latencyUs);
    if (this.service !== this.latency) this.service.recordValue(Math.max(1, serviceUs));
    if (status > 0 && status < 600) this.statusCounts[status]!++;
    if (this.prevLatencyUs >= 0) {
      const diff = Math.abs(latencyUs - this.prevLatencyUs);
      this.jitterSum += diff;
      this.jitterN++;
      this.bucketJitterSum += diff;
      this.bucketJitterN++;
    }
    this.prevLatencyUs = latencyUs;
    if (backend === undefined) {
      this.unlabeled++;
    } else {
      let entry = this.backends.get(backend);
      if (!entry) {
        entry = { count: 0, hist: createHistogram() };
        this.backends.set(backend, entry);
      }
      entry.count++;
      entry.hist.recordValue(latencyUs);
    }
  }

  recordFailure(startMs: number, endMs: number, kind: FailureKind, code: string): void {
    this.failedAll++;
    this.advance(endMs);
    this.bucketErrors++;
    this.bucketFailures++;
    addCount(this.bucketErrorKinds, code, 1);
    if (startMs < this.warmupEndMs) return;
    if (kind === "timeout") this.timeouts++;
    else this.connectionErrors++;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
  }

  /** Closes the series bucket(s) up to `nowMs`; call at the end and from progress ticks. */
  advance(nowMs: number): void {
    const elapsed = nowMs - this.runStartMs;
    // The interval may double inside flushBucket, so the target index is recomputed each time.
    while (Math.floor(elapsed / this.intervalMs) > this.bucketIndex) this.flushBucket();
  }

  lastCompleteRps(): number {
    const last = this.points[this.points.length - 1];
    return last ? last.rps : 0;
  }

  finish(measuredMs: number): {
    requests: RequestCounts;
    throughput: { rps: number; bytesPerSec: number; bytes: number };
    latency: LatencySummary;
    serviceTime: LatencySummary;
    jitter: JitterSummary;
    backends: { entries: BackendStats[]; minSharePct: number | null; unlabeled: number };
    series: { intervalMs: number; points: SeriesPoint[] };
    encoded: { latency: string; serviceTime: string; perBackend: Record<string, string> };
  } {
    if (this.bucketCount > 0 || this.bucketErrors > 0) this.flushBucket();
    const seconds = Math.max(measuredMs, 1) / 1000;
    const statusCodes: Record<string, number> = {};
    let ok = 0;
    let httpErrors = 0;
    let non2xx = 0;
    for (let code = 0; code < this.statusCounts.length; code++) {
      const n = this.statusCounts[code]!;
      if (n === 0) continue;
      statusCodes[String(code)] = n;
      if (code < 200 || code >= 300) non2xx += n;
      if (code >= 200 && code < 400) ok += n;
      else httpErrors += n;
    }
    const transportFailures = this.timeouts + this.connectionErrors;
    const failed = transportFailures + httpErrors;
    const attempts = this.responses + transportFailures;
    const latency = summarize(this.latency);
    const jitter: JitterSummary = {
      meanAbsDiffUs: this.jitterN > 0 ? Math.round((this.jitterSum / this.jitterN) * 10) / 10 : 0,
      stddevUs: latency.stddevUs,
      spreadP99P50Us: latency.p99Us - latency.p50Us,
      definition: JITTER_DEFINITION,
    };
    const labeled = [...this.backends.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    const entries: BackendStats[] = labeled.map(([name, entry]) => ({
      name,
      count: entry.count,
      sharePct: this.responses > 0 ? round2((entry.count / this.responses) * 100) : 0,
      latency: summarize(entry.hist),
    }));
    const perBackend: Record<string, string> = {};
    for (const [name, entry] of labeled) perBackend[name] = encodeHistogram(entry.hist);
    return {
      requests: {
        sent: Math.max(this.sent, attempts),
        responses: this.responses,
        ok,
        failed,
        errorRatePct: attempts > 0 ? round2((failed / attempts) * 100) : 0,
        timeouts: this.timeouts,
        connectionErrors: this.connectionErrors,
        errorsByCode: Object.fromEntries(this.errorsByCode),
        statusCodes,
        non2xx,
        unfinished: Math.max(0, this.sent - attempts),
      },
      throughput: {
        rps: round2(this.responses / seconds),
        bytesPerSec: Math.round(this.bytes / seconds),
        bytes: this.bytes,
      },
      latency,
      serviceTime: summarize(this.service),
      jitter,
      backends: {
        entries,
        minSharePct: entries.length > 0 ? Math.min(...entries.map((e) => e.sharePct)) : null,
        unlabeled: this.unlabeled,
      },
      series: { intervalMs: this.intervalMs, points: this.points.slice() },
      encoded: {
        latency: encodeHistogram(this.latency),
        serviceTime: encodeHistogram(this.service),
        perBackend,
      },
    };
  }

  private flushBucket(): void {
    const seconds = this.intervalMs / 1000;
    const h = this.bucketHist;
    const empty = h.totalCount === 0;
    const tStart = this.bucketIndex * this.intervalMs;
    if (this.onBucket) {
      this.onBucket({
        tStartMs: tStart,
        histogram: encodeHistogram(h),
        count: this.bucketCount,
        bytes: this.bucketBytes,
        errors: this.bucketErrors,
        failures: this.bucketFailures,
        jitterSum: this.bucketJitterSum,
        jitterN: this.bucketJitterN,
        backends: [...this.bucketBackends],
        errorKinds: [...this.bucketErrorKinds],
      });
      this.resetBucket();
      return;
    }
    this.points.push({
      tSec: tStart / 1000,
      warmup: this.runStartMs + tStart < this.warmupEndMs,
      rps: round2(this.bucketCount / seconds),
      bytesPerSec: Math.round(this.bucketBytes / seconds),
      errors: this.bucketErrors,
      meanUs: empty ? 0 : Math.round(h.mean),
      p50Us: empty ? 0 : h.getValueAtPercentile(50),
      p90Us: empty ? 0 : h.getValueAtPercentile(90),
      p95Us: empty ? 0 : h.getValueAtPercentile(95),
      p99Us: empty ? 0 : h.getValueAtPercentile(99),
      p999Us: empty ? 0 : h.getValueAtPercentile(99.9),
      maxUs: empty ? 0 : h.maxValue,
      jitterUs: this.bucketJitterN > 0 ? Math.round(this.bucketJitterSum / this.bucketJitterN) : 0,
      backends: sortedRecord(this.bucketBackends),
      errorKinds: sortedRecord(this.bucketErrorKinds),
    });
    this.resetBucket();
    if (this.points.length > this.maxPoints && this.points.length % 2 === 0) this.coalesce();
  }

  private resetBucket(): void {
    this.bucketHist.reset();
    this.bucketCount = 0;
    this.bucketBytes = 0;
    this.bucketErrors = 0;
    this.bucketFailures = 0;
    this.bucketJitterSum = 0;
    this.bucketJitterN = 0;
    this.bucketBackends.clear();
    this.bucketErrorKinds.clear();
    this.bucketIndex++;
  }

  /** Worker mode: hands over the last (partial) bucket; call once when the worker's run is over. */
  flushRemaining(): void {
    if (this.bucketCount > 0 || this.bucketErrors > 0) this.flushBucket();
  }

  /**
   * Parent side: adds a worker's bucket into the interval it belongs to. Buckets must arrive in time
   * order across all workers (the caller releases interval i only once every worker has sent it).
   */
  addBucket(bucket: RawBucket): void {
    // By the interval's index, never through the clock: (runStartMs + 1000) − runStartMs is 999.999…
    // for some start times, which put every answer of second 1 into second 0.
    while (Math.floor(bucket.tStartMs / this.intervalMs) > this.bucketIndex) this.flushBucket();
    if (bucket.count > 0) this.bucketHist.add(decodeHistogram(bucket.histogram));
    this.bucketCount += bucket.count;
    this.bucketBytes += bucket.bytes;
    this.bucketErrors += bucket.errors;
    this.bucketFailures += bucket.failures;
    this.bucketJitterSum += bucket.jitterSum;
    this.bucketJitterN += bucket.jitterN;
    for (const [name, n] of bucket.backends ?? []) addCount(this.bucketBackends, name, n);
    for (const [kind, n] of bucket.errorKinds ?? []) addCount(this.bucketErrorKinds, kind, n);
    this.completedAll += bucket.count;
    this.failedAll += bucket.failures;
  }

  /** Worker side: the totals, ready to cross to the parent. */
  totals(): RecorderTotals {
    return {
      latency: encodeHistogram(this.latency),
      service: this.service === this.latency ? null : encodeHistogram(this.service),
      sendLag: encodeHistogram(this.sendLag),
      generatorLag: encodeHistogram(this.generatorLag),
      statusCounts: [...this.statusCounts.entries()].filter(([, n]) => n > 0),
      backends: [...this.backends.entries()].map(([name, e]) => [name, e.count, encodeHistogram(e.hist)]),
      unlabeled: this.unlabeled,
      sent: this.sent,
      responses: this.responses,
      bytes: this.bytes,
      timeouts: this.timeouts,
      connectionErrors: this.connectionErrors,
      errorsByCode: [...this.errorsByCode.entries()],
      lateSends: this.lateSends,
      jitterSum: this.jitterSum,
      jitterN: this.jitterN,
    };
  }

  /**
   * Parent side: adds one worker's totals. Histograms and counts add exactly; jitter adds each
   * worker's consecutive-response differences (pairs across two workers are not formed).
   */
  addTotals(t: RecorderTotals): void {
    const add = (h: Histogram, encoded: string) => {
      const other = decodeHistogram(encoded);
      if (other.totalCount > 0) h.add(other);
    };
    add(this.latency, t.latency);
    if (t.service !== null && this.service !== this.latency) add(this.service, t.service);
    add(this.sendLag, t.sendLag);
    add(this.generatorLag, t.generatorLag);
    for (const [code, n] of t.statusCounts) this.statusCounts[code] = this.statusCounts[code]! + n;
    for (const [name, count, encoded] of t.backends) {
      let entry = this.backends.get(name);
      if (!entry) {
        entry = { count: 0, hist: createHistogram() };
        this.backends.set(name, entry);
      }
      entry.count += count;
      add(entry.hist, encoded);
    }
    this.unlabeled += t.unlabeled;
    this.sent += t.sent;
    this.responses += t.responses;
    this.bytes += t.bytes;
    this.timeouts += t.timeouts;
    this.connectionErrors += t.connectionErrors;
    for (const [code, n] of t.errorsByCode)
      this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + n);
    this.lateSends += t.lateSends;
    this.jitterSum += t.jitterSum;
    this.jitterN += t.jitterN;
  }

  /** Halves the series resolution so memory stays bounded on long runs. Merged tails take the worse value. */
  private coalesce(): void {
    const merged: SeriesPoint[] = [];
    for (let i = 0; i + 1 < this.points.length; i += 2) {
      const a = this.points[i]!;
      const b = this.points[i + 1]!;
      const avg = (x: number, y: number) => Math.round((x + y) / 2);
      merged.push({
        tSec: a.tSec,
        warmup: a.warmup || b.warmup,
        rps: round2((a.rps + b.rps) / 2),
        bytesPerSec: avg(a.bytesPerSec, b.bytesPerSec),
        errors: a.errors + b.errors,
        meanUs: avg(a.meanUs, b.meanUs),
        p50Us: avg(a.p50Us, b.p50Us),
        p90Us: avg(a.p90Us, b.p90Us),
        p95Us: Math.max(a.p95Us, b.p95Us),
        p99Us: Math.max(a.p99Us, b.p99Us),
        p999Us: Math.max(a.p999Us, b.p999Us),
        maxUs: Math.max(a.maxUs, b.maxUs),
        jitterUs: avg(a.jitterUs, b.jitterUs),
        backends: sumRecords(a.backends, b.backends),
        errorKinds: sumRecords(a.errorKinds, b.errorKinds),
      });
    }
    this.points.length = 0;
    this.points.push(...merged);
    this.intervalMs *= 2;
    this.bucketIndex = this.points.length;
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function addCount(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function sortedRecord(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort((a, b) => a[0].localeCompare(b[0])));
}

/** Counts of two coalesced intervals add up (they are counts per interval, not rates). */
function sumRecords(
  a: Record<string, number> | undefined,
  b: Record<string, number> | undefined,
): Record<string, number> {
  const sum = new Map<string, number>();
  for (const [k, n] of [...Object.entries(a ?? {}), ...Object.entries(b ?? {})]) addCount(sum, k, n);
  return sortedRecord(sum);
}
