import type { FaultWindowStats } from "./fault-windows/fault-windows.js";

/** What `runBench` is asked to do. Durations in milliseconds. */
export interface BenchOptions {
  url: string;
  /** Closed loop: concurrent connections each sending its next request when the previous one returns. Constant rate: connection pool size. */
  connections?: number;
  durationMs?: number;
  /** Requests sent during the warm-up are sent but not counted. */
  warmupMs?: number;
  /** Requests per second; when set the run is open-loop (constant rate) with latency measured from the scheduled send time. */
  rate?: number;
  timeoutMs?: number;
  /** Response header that names the backend that served the request. Default X-Served-By. */
  backendHeader?: string;
  method?: string;
  headers?: Record<string, string>;
  /**
   * Request body sent with every request (a string is sent as UTF-8). Needs a method that carries a
   * body (not GET or HEAD). Without a Content-Type header one is inferred: application/json when the
   * body parses as JSON, text/plain; charset=utf-8 for other UTF-8 text, application/octet-stream otherwise.
   */
  body?: string | Buffer;
  /** Skip TLS certificate verification in constant-rate mode (closed loop via autocannon never verifies). */
  insecure?: boolean;
  /** Stops the run early (e.g. Ctrl-C); what was measured so far is reported. */
  signal?: AbortSignal;
  /**
   * "net" (default): labgate's engine on node:net sockets (pre-built requests, a strict HTTP/1.1
   * response parser) in worker threads.
   * "undici": the same engine on undici's dispatch API.
   * "autocannon": the previous engine (autocannon closed loop, node:http constant rate), kept as the reference.
   */
  engine?: BenchEngine;
  /** Engine threads for labgate's engine (net or undici); default chosen per mode (see defaultWorkers). */
  workers?: number;
  /**
   * Ramping arrival rate (k6 stages): after the warm-up (sent at `rate`), the rate moves linearly to
   * each stage's target over its duration, starting from `rate` or 0. Sets the measured duration to
   * the stages' total; constant-rate mode, labgate's engine (net or undici).
   */
  stages?: Stage[];
  /**
   * What `stages` ramps: "rate" (default) the arrival rate, open loop (k6 ramping-arrival-rate), or
   * "connections" the connections of a closed loop (k6 ramping-vus), from `connections` when given,
   * else 0; the pool then holds the largest target.
   */
  stagesOf?: "rate" | "connections";
  /** Recorded in the result's environment block: the command that started the run (secrets are redacted when written). */
  commandLine?: string[];
  /** Recorded in the environment block when the run measures a lab. */
  lab?: LabFingerprint;
}

/** One load stage: reach `target` requests/s linearly over `durationMs`. */
export interface Stage {
  durationMs: number;
  target: number;
}

/** Which lab a run measured: two runs against different labs are not comparable. */
export interface LabFingerprint {
  name?: string;
  provider: string;
  /** e.g. "1 LB (haproxy) + 2 app containers: app1, app2". */
  topology: string;
  /** sha256 of the HAProxy configuration the lab's LB was running, hex. */
  haproxyConfigSha256: string | null;
}

/** Where and how a run was made: what `compare` checks before judging two runs. */
export interface BenchEnvironment {
  commandLine: string[] | null;
  labgateVersion: string;
  node: string;
  os: { platform: string; release: string; arch: string };
  cpus: { count: number; model: string };
  engine: BenchEngine;
  workers: number;
  hostname: string;
  lab: LabFingerprint | null;
}

/** One round of a `--repeat N` run: what `compare` needs to see the between-round spread. */
export interface RoundSummary {
  round: number;
  startedAt: string;
  /** Where this round starts on the result's time axis (seconds since the first round's start). */
  offsetSec: number;
  warmupMs: number;
  measuredMs: number;
  latency: LatencySummary;
  throughput: { rps: number; bytesPerSec: number };
  jitterUs: number;
  errorRatePct: number;
  responses: number;
  failed: number;
  trustworthy: boolean;
  backends: Array<{ name: string; count: number; sharePct: number; p50Us: number; p99Us: number }>;
}

export type BenchEngine = "net" | "undici" | "autocannon";

export interface ResolvedBenchOptions {
  url: string;
  mode: BenchMode;
  connections: number;
  durationMs: number;
  warmupMs: number;
  rate: number | null;
  timeoutMs: number;
  backendHeader: string;
  method: string;
  /** The headers given; the body's Content-Type is in `body` when it was inferred. */
  headers: Record<string, string>;
  body: RequestBody | null;
  insecure: boolean;
  engine: BenchEngine;
  /** Engine threads (1 for the autocannon engine, which runs on the main thread). */
  workers: number;
  /** Load stages after the warm-up; null: a constant `rate` (or closed loop). */
  stages: Stage[] | null;
  /** What `stages` ramps (absent: the arrival rate). */
  stagesOf?: "rate" | "connections";
  /** A connection ramp's start (warm-up included); `connections` is then the largest target. */
  startConnections?: number;
}

export interface RequestBody {
  data: Buffer;
  /** Content-Length of every request. */
  bytes: number;
  /** The Content-Type sent: the one given in the headers, or the inferred one. */
  contentType: string;
  contentTypeInferred: boolean;
}

/** The options as stored in results and reports: the body only by size and type (it may be large or sensitive), credentials masked. */
export type PublicBenchOptions = Omit<ResolvedBenchOptions, "body" | "stages"> & {
  body: Omit<RequestBody, "data"> | null;
  /** Absent in results written before load stages existed. */
  stages?: Stage[] | null;
};

export type BenchMode = "closed-loop" | "constant-rate";

export interface BenchProgress {
  phase: "warmup" | "measure" | "drain";
  elapsedMs: number;
  totalMs: number;
  completed: number;
  errors: number;
  /** Requests per second over the last full second. */
  currentRps: number;
}

export interface BenchHooks {
  onProgress?: (progress: BenchProgress) => void;
}

/** Latency statistics in microseconds; `count` is the number of recorded responses. */
export interface LatencySummary {
  count: number;
  minUs: number;
  meanUs: number;
  stddevUs: number;
  p50Us: number;
  p75Us: number;
  p90Us: number;
  p95Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface JitterSummary {
  /** Mean absolute difference between consecutive response latencies in completion order. */
  meanAbsDiffUs: number;
  stddevUs: number;
  /** p99 − p50 of the latency distribution. */
  spreadP99P50Us: number;
  definition: string;
}

export interface BackendStats {
  name: string;
  count: number;
  sharePct: number;
  latency: LatencySummary;
}

export interface SeriesPoint {
  /** Seconds since the start of the run (warm-up included) at the start of the interval. */
  tSec: number;
  warmup: boolean;
  rps: number;
  bytesPerSec: number;
  errors: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p95Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  jitterUs: number;
  /**
   * Responses per backend (the backend header's value) completed in this interval, warm-up
   * included like `rps`; absent in results written before it was recorded.
   */
  backends?: Record<string, number>;
  /** This interval's `errors` by kind: the transport code (ECONNRESET, ETIMEDOUT …) or "HTTP <status>"; they add up to `errors`. */
  errorKinds?: Record<string, number>;
  /**
   * What the load asked for in this interval, beside what it achieved: the mean target request rate
   * (open loop) or the mean target connections (closed loop) over the part of the interval inside
   * the run (0 after it). See `series.target`; absent in results written before it was recorded.
   */
  target?: number;
}

export interface RequestCounts {
  /** Requests whose send fell in the measured window. */
  sent: number;
  /** Responses (any status) received for them. */
  responses: number;
  /** 2xx and 3xx responses. */
  ok: number;
  /** Transport errors + timeouts + 4xx/5xx responses. */
  failed: number;
  errorRatePct: number;
  timeouts: number;
  connectionErrors: number;
  errorsByCode: Record<string, number>;
  statusCodes: Record<string, number>;
  non2xx: number;
  /** Measured requests still unanswered when the run ended (closed loop stops mid-flight). */
  unfinished: number;
}

export interface RateReport {
  targetRps: number;
  /** Measured sends per second actually dispatched. */
  achievedSendRps: number;
  lateSends: number;
  latePct: number;
  lateThresholdUs: number;
  /** Scheduled send → actual send: the generator's own lag plus any wait for a free connection. */
  sendLagUs: { p50: number; p99: number; max: number };
  /** Scheduled send → the moment the generator noticed it was due: its own timer lag, kept out of the latency. */
  generatorLagUs: { p50: number; p99: number; max: number };
}

export interface GeneratorReport {
  engine: BenchEngine;
  /** Threads that generated load. */
  workers: number;
  /** CPU time of the generator process over wall time; one core = 100%. */
  cpuPercent: number;
  /** Share of time the busiest load thread's event loop was busy (not waiting for I/O). */
  eventLoopUtilizationPercent: number;
  eventLoopDelayP99Ms: number;
  /** Largest share of wall time a load thread was ready to run but waited for a CPU; null when unknown. */
  starvedPercent: number | null;
  /** Per load thread. */
  threads: GeneratorThread[];
  saturated: boolean;
  trustworthy: boolean;
  notes: string[];
}

export interface GeneratorThread {
  cpuPercent: number;
  starvedPercent: number | null;
  eventLoopUtilizationPercent: number;
  eventLoopDelayP99Ms: number;
}

/**
 * passed / failed: the SLOs were judged. not-judged: SLOs were given but the generator was not
 * trustworthy (saturated, starved or lagging), so the numbers may describe it, not the target.
 * none: no SLO was given.
 */
export type SloVerdict = "passed" | "failed" | "not-judged" | "none";

export interface EncodedHistograms {
  encoding: "hdr-histogram-compressed-base64";
  unit: "us";
  latency: string;
  serviceTime: string;
  perBackend: Record<string, string>;
  /** `--repeat N`: each round's latency histogram, in round order (the .hlog intervals). */
  rounds?: string[];
}

export type SloOperator = "<" | "<=" | ">" | ">=";

export interface Slo {
  expression: string;
  metric: string;
  operator: SloOperator;
  /** Threshold in the metric's canonical unit (µs, per second, percent or count). */
  threshold: number;
  unit: "us" | "per_s" | "pct" | "count";
}

export interface SloResult {
  expression: string;
  metric: string;
  operator: SloOperator;
  threshold: number;
  unit: Slo["unit"];
  actual: number | null;
  actualText: string;
  pass: boolean;
  note?: string;
}

export interface BenchResult {
  schema: "labgate.bench.result/v1";
  tool: { name: "labgate-bench"; version: string };
  startedAt: string;
  finishedAt: string;
  options: PublicBenchOptions;
  /** Length of the measured window (warm-up excluded). */
  measuredMs: number;
  /** "scheduled-send": latency counted from when the request should have been sent (coordinated-omission corrected). */
  latencyBasis: "scheduled-send" | "actual-send";
  requests: RequestCounts;
  throughput: { rps: number; bytesPerSec: number; bytes: number };
  latency: LatencySummary;
  /** Time from actual send to response; equals `latency` in closed loop. */
  serviceTime: LatencySummary;
  jitter: JitterSummary;
  rate: RateReport | null;
  backends: { header: string; entries: BackendStats[]; minSharePct: number | null; unlabeled: number };
  series: {
    intervalMs: number;
    points: SeriesPoint[];
    /** What each point's `target` is: a request rate ("rate") or a number of connections. */
    target?: "rate" | "connections";
  };
  generator: GeneratorReport;
  histograms: EncodedHistograms;
  slos: SloResult[];
  /** Whether every SLO threshold held; null when no SLO was given. Judge by `sloVerdict`. */
  slosPassed: boolean | null;
  sloVerdict: SloVerdict;
  aborted: boolean;
  warnings: string[];
  /** Absent in results written before environments were recorded. */
  environment?: BenchEnvironment;
  /** `--repeat N`: each round's summary; the rest of the result pools all rounds. Absent for a single round. */
  rounds?: RoundSummary[];
  /** `bench run --lab --fault`: each fault as it happened (ms since the run started, warm-up included). */
  faults?: FaultRecord[];
  /** `bench run --lab --fault`: what was measured in each fault's window, in the order of `faults` that were applied. */
  faultWindows?: FaultWindowStats[];
}

/** One injected fault as it happened, on the run's clock (ms since the run started, warm-up included). */
export interface FaultRecord {
  /** The fault as written, e.g. "stop app2 at 5s for 10s". */
  fault: string;
  action: string;
  target: string;
  plannedStartMs: number;
  plannedEndMs: number;
  appliedAtMs: number | null;
  activeAtMs: number | null;
  undoneAtMs: number | null;
  undoReason: string | null;
  error: string | null;
}
