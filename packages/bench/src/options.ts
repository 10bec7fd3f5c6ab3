import { availableParallelism } from "node:os";
import { registerSecret } from "@labgate/core/redact";
import { BenchOptionError } from "./errors.js";
import { CLOSED_LOOP_BODY_MEMORY_BYTES, resolveBody } from "./request-body.js";
import { RampSchedule } from "./stages.js";
import type { BenchOptions, PublicBenchOptions, ResolvedBenchOptions } from "./types.js";

export const DEFAULTS = {
  connections: 10,
  durationMs: 10_000,
  warmupMs: 0,
  timeoutMs: 5_000,
  backendHeader: "X-Served-By",
  method: "GET",
  engine: "net",
} as const;

/**
 * Engine threads when --workers is not given. Measured on a 2-core machine with the target on it
 * (packages/bench/README.md, Self-benchmark): a second engine thread competed with the target for
 * the two cores without a consistent gain, so half the cores go to the engine; constant rate adds
 * a thread per 20k req/s only, as one polling thread keeps that schedule.
 */
export function defaultWorkers(mode: "closed-loop" | "constant-rate", rate: number | null): number {
  // Half the cores, the other half left to the target and the system (labs run both on one host).
  const spare = Math.max(1, Math.min(8, Math.floor(availableParallelism() / 2)));
  if (mode === "constant-rate") return Math.max(1, Math.min(spare, Math.ceil((rate ?? 0) / 20_000)));
  return spare;
}

const ENGINES = new Set(["net", "undici", "autocannon"]);

/**
 * The longest each duration can mean. Node timers hold at most 2^31-1 ms (24.8 days) and fire at once
 * past it, so every bound stays far below; beyond these a run is a mistake (1000h), not a measurement.
 */
export const LIMITS = {
  durationMs: 24 * 3_600_000,
  warmupMs: 3_600_000,
  timeoutMs: 3_600_000,
} as const;

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks every option and fills defaults; each problem becomes an exit-2 error saying what to type instead. */
export function resolveOptions(input: BenchOptions): ResolvedBenchOptions {
  const url = validateUrl(input.url);
  let connections = integerIn(input.connections ?? DEFAULTS.connections, "connections", 1, 10_000);
  const durationMs = positiveMs(input.durationMs ?? DEFAULTS.durationMs, "duration", 100);
  const warmupMs = nonNegativeMs(input.warmupMs ?? DEFAULTS.warmupMs, "warmup");
  const timeoutMs = positiveMs(input.timeoutMs ?? DEFAULTS.timeoutMs, "timeout", 1);
  atMost(durationMs, "duration", LIMITS.durationMs, "split a longer soak into several runs");
  atMost(warmupMs, "warmup", LIMITS.warmupMs, "a warm-up of a few seconds to minutes is typical");
  atMost(timeoutMs, "timeout", LIMITS.timeoutMs, "a request slower than that is a failure to report");
  let rate: number | null = null;
  if (input.rate !== undefined && input.rate !== null) {
    if (!Number.isFinite(input.rate) || input.rate <= 0 || input.rate > 1_000_000) {
      throw new BenchOptionError(
        `--rate ${input.rate} is not a usable request rate.`,
        "Give requests per second as a positive number up to 1000000, e.g. --rate 200; leave it out for closed-loop mode.",
        { rate: input.rate },
      );
    }
    rate = input.rate;
  }
  const backendHeader = (input.backendHeader ?? DEFAULTS.backendHeader).trim();
  if (!HEADER_NAME.test(backendHeader)) {
    throw new BenchOptionError(
      `--backend-header "${backendHeader}" is not a valid HTTP header name.`,
      "Use a header name such as X-Served-By (letters, digits and - only).",
    );
  }
  const method = (input.method ?? DEFAULTS.method).toUpperCase();
  if (!METHODS.has(method)) {
    throw new BenchOptionError(
      `HTTP method "${input.method}" is not supported.`,
      `Use one of ${[...METHODS].join(", ")}.`,
    );
  }
  const headers = validateHeaders(input.headers ?? {});
  const body = resolveBody(input.body, method, headers);
  // autocannon keeps a copy of the whole request per connection; labgate's engines share one per thread.
  const copiesPerConnection = (input.engine ?? DEFAULTS.engine) === "autocannon" && rate === null;
  if (body && copiesPerConnection && body.bytes * connections > CLOSED_LOOP_BODY_MEMORY_BYTES) {
    throw new BenchOptionError(
      `${connections} connections × a ${body.bytes}-byte body need ${Math.ceil((body.bytes * connections) / 2 ** 20)} MiB: closed loop (autocannon) keeps a copy of the whole request per connection.`,
      `Use fewer --connections (at most ${Math.max(1, Math.floor(CLOSED_LOOP_BODY_MEMORY_BYTES / body.bytes))} with this body), a smaller body, or constant rate (--rate), which shares one copy.`,
      { connections, bodyBytes: body.bytes },
    );
  }
  const engine = input.engine ?? DEFAULTS.engine;
  if (!ENGINES.has(engine)) {
    throw new BenchOptionError(
      `--engine "${engine}" is not a load engine labgate has.`,
      "Use --engine net (the default), --engine undici, or --engine autocannon (the reference engine).",
      { engine },
    );
  }
  const stages = input.stages?.length ? [...input.stages] : null;
  const stagesOf = input.stagesOf ?? "rate";
  if (stagesOf !== "rate" && stagesOf !== "connections") {
    throw new BenchOptionError(
      `--ramp "${String(stagesOf)}" is not something --stages can ramp.`,
      "Pass --ramp rate (the arrival rate, open loop) or --ramp connections (a closed loop's connections).",
    );
  }
  if (input.stagesOf !== undefined && !stages) {
    throw new BenchOptionError(
      `--ramp ${stagesOf} was given without --stages.`,
      "Give the ramp with --stages, e.g. --stages 30s:50,60s:50,30s:0 --ramp connections.",
    );
  }
  let startConnections: number | undefined;
  if (stages) {
    if (engine === "autocannon") {
      throw new BenchOptionError(
        "--stages was given with --engine autocannon, which sends at one constant rate only.",
        "Leave --engine out (labgate's engine ramps the rate), or drop --stages.",
      );
    }
    if (stagesOf === "connections") {
      if (rate !== null) {
        throw new BenchOptionError(
          "--ramp connections ramps a closed loop's connections, but --rate asks for an arrival rate.",
          "Drop --rate, or ramp the arrival rate instead (--ramp rate, which starts from --rate).",
        );
      }
      // k6 ramping-vus: from --connections when given, else from 0; the pool holds the largest target.
      startConnections = input.connections ?? 0;
      const peak = Math.floor(Math.max(startConnections, ...stages.map((s) => s.target)));
      if (peak < 1) {
        throw new BenchOptionError(
          "--stages never opens a connection: every target is below 1.",
          "Give a stage a target of at least 1, e.g. --stages 10s:50,20s:50,10s:0 --ramp connections.",
        );
      }
      if (peak > 10_000) {
        throw new BenchOptionError(
          `--stages asks for ${peak} connections; at most 10000 are accepted.`,
          "Lower the stage targets, or spread the load over several generator machines.",
          { peak },
        );
      }
      connections = peak;
    } else {
      // Ramping from --rate, or from nothing: the run is open loop either way (k6 ramping-arrival-rate).
      rate ??= 0;
      if (new RampSchedule(rate, stages).totalArrivals < 1) {
        throw new BenchOptionError(
          "--stages never asks for a request: every target is 0.",
          "Give a stage a target above 0, e.g. --stages 10s:100,20s:100,10s:0.",
        );
      }
    }
  }
  const measuredMs = stages ? stages.reduce((s, x) => s + x.durationMs, 0) : durationMs;
  if (stages) atMost(measuredMs, "duration", LIMITS.durationMs, "split a longer soak into several runs");
  const peakRate = stages ? Math.max(rate ?? 0, ...stages.map((s) => s.target)) : rate;
  const mode = rate === null ? "closed-loop" : "constant-rate";
  let workers = 1;
  if (engine !== "autocannon") {
    workers =
      input.workers === undefined
        ? Math.min(connections, defaultWorkers(mode, peakRate))
        : integerIn(input.workers, "workers", 1, 64);
    if (workers > connections) {
      throw new BenchOptionError(
        `--workers ${workers} is more than the ${connections} connection(s): every engine thread needs at least one connection.`,
        `Pass --workers ${connections} or fewer, or more --connections.`,
        { workers, connections },
      );
    }
  } else if (input.workers !== undefined && input.workers !== 1) {
    throw new BenchOptionError(
      `--workers ${input.workers} was given with --engine autocannon, which runs on one thread.`,
      "Leave --workers out with --engine autocannon, or use the default engine (net).",
      { workers: input.workers },
    );
  }
  return {
    engine,
    workers,
    url,
    mode,
    connections,
    durationMs: measuredMs,
    warmupMs,
    rate,
    stages,
    ...(stages ? { stagesOf } : {}),
    ...(startConnections !== undefined ? { startConnections } : {}),
    timeoutMs,
    backendHeader,
    method,
    headers,
    body,
    insecure: input.insecure ?? false,
  };
}

export function validateUrl(raw: string | undefined): string {
  if (!raw?.trim()) {
    throw new BenchOptionError("No target URL given.", "Pass --url http://HOST:PORT/PATH (http or https).");
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new BenchOptionError(
      `"${raw}" is not a URL.`,
      "Pass a full URL such as http://127.0.0.1:8080/ (scheme, host, optional port and path).",
      {
        url: raw,
      },
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BenchOptionError(
      `"${raw}" uses ${url.protocol.replace(":", "")}; only http and https can be measured.`,
      "Use a URL starting with http:// or https://.",
      {
        url: raw,
      },
    );
  }
  if (!url.hostname) {
    throw new BenchOptionError(`"${raw}" has no host.`, "Use a URL such as http://127.0.0.1:8080/.");
  }
  return url.toString();
}

function integerIn(value: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BenchOptionError(
      `--${what} ${value} is not a whole number between ${min} and ${max}.`,
      `Pass e.g. --${what} ${min === 1 ? 10 : min}.`,
      {
        [what]: value,
      },
    );
  }
  return value;
}

function positiveMs(value: number, what: string, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new BenchOptionError(
      `--${what} must be at least ${min}ms (got ${value}ms).`,
      `Pass e.g. --${what} ${what === "timeout" ? "5s" : "10s"}.`,
      {
        [what]: value,
      },
    );
  }
  return value;
}

function atMost(value: number, what: string, max: number, why: string): void {
  if (value > max) {
    throw new BenchOptionError(
      `--${what} ${formatLimit(value)} is longer than the ${formatLimit(max)} it can be; ${why}.`,
      `Pass --${what} ${formatLimit(max)} or less.`,
      { [what]: value, max },
    );
  }
}

function formatLimit(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function nonNegativeMs(value: number, what: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new BenchOptionError(
      `--${what} must not be negative (got ${value}ms).`,
      `Pass e.g. --${what} 2s, or 0 for none.`,
    );
  }
  return value;
}

const SENSITIVE_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|x-auth-token)$/i;

function validateHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) {
      throw new BenchOptionError(
        `Request header name "${name}" is not valid.`,
        'Pass headers as --header "Name: value".',
      );
    }
    if (/[\r\n]/.test(value)) {
      throw new BenchOptionError(
        `Request header "${name}" contains a line break.`,
        "Header values must be a single line.",
      );
    }
    // Credentials sent to the target must not end up in reports or logs.
    if (SENSITIVE_HEADER.test(name)) {
      registerSecret(value);
      const token = value.split(/\s+/).pop();
      if (token) registerSecret(token);
    }
  }
  return { ...headers };
}

/** Parses a repeated `--header "Name: value"` flag. */
export function parseHeaderFlags(flags: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const flag of flags) {
    const colon = flag.indexOf(":");
    if (colon <= 0) {
      throw new BenchOptionError(
        `--header "${flag}" is not "Name: value".`,
        'Write e.g. --header "Host: app.lab".',
      );
    }
    headers[flag.slice(0, colon).trim()] = flag.slice(colon + 1).trim();
  }
  return headers;
}

/** The options as they may be stored in reports: credentials in headers masked, the body by size and type only. */
export function publicOptions(options: ResolvedBenchOptions): PublicBenchOptions {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers))
    headers[name] = SENSITIVE_HEADER.test(name) ? "***" : value;
  const { body, ...rest } = options;
  return {
    ...rest,
    headers,
    body: body
      ? { bytes: body.bytes, contentType: body.contentType, contentTypeInferred: body.contentTypeInferred }
      : null,
  };
}

/** The headers every request carries: the given ones plus the body's inferred Content-Type. */
export function requestHeaders(options: ResolvedBenchOptions): Record<string, string> {
  if (!options.body?.contentTypeInferred) return { ...options.headers };
  return { ...options.headers, "Content-Type": options.body.contentType };
}
