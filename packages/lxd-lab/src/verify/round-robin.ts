import { fetchHaproxyServerStatus, type HaproxyServerStatus } from "../haproxy/stats-csv.js";
import { headerValue, httpProbe } from "./http-probe.js";

export interface RoundRobinOptions {
  /** URL through the load balancer, e.g. "http://127.0.0.1:8080/". */
  url: string;
  /** Backend names that must all serve (the X-Served-By values, e.g. ["app1", "app2"]). */
  expectedBackends: string[];
  /** Number of requests (default 10 per backend, at least 20). */
  requests?: number;
  /** Allowed deviation of each backend's share from an even split, in percentage points (default 10). */
  tolerancePct?: number;
  /** Header naming the server (default "X-Served-By"). */
  header?: string;
  timeoutMs?: number;
  /** HAProxy stats CSV URL (e.g. "http://127.0.0.1:8404/stats;csv"): names down servers and why. */
  statsUrl?: string;
  signal?: AbortSignal;
}

export interface RoundRobinReport {
  ok: boolean;
  url: string;
  requests: number;
  /** Who served each request, in order; null = no answer or no header. */
  sequence: (string | null)[];
  /** Requests served per backend (expected ones always present, possibly 0). */
  counts: Record<string, number>;
  /** Share of requests per backend, in percent. */
  sharesPct: Record<string, number>;
  expectedSharePct: number;
  tolerancePct: number;
  /** Answers without the header. */
  missingHeader: number;
  /** Requests that failed (connection error, timeout) or answered with a non-2xx status. */
  failed: number;
  /** Expected backends that served nothing. */
  notServing: string[];
  /** Header values that are not expected backends. */
  unexpected: string[];
  /** HAProxy's view of servers not UP (when statsUrl was reachable). */
  haproxyDown: HaproxyServerStatus[];
  /** Why the check failed, one sentence each; empty when ok. */
  problems: string[];
}

/**
 * Sends N sequential requests through the load balancer, each on a fresh connection, and checks
 * that every answer names its server, that every expected backend served, and that the split is
 * even within tolerance. Never throws for a failing lab: the report says what is wrong.
 */
export async function verifyRoundRobin(options: RoundRobinOptions): Promise<RoundRobinReport> {
  const expected = [...new Set(options.expectedBackends)];
  const requests = options.requests ?? Math.max(20, 10 * expected.length);
  const tolerancePct = options.tolerancePct ?? 10;
  const header = options.header ?? "X-Served-By";
  const sequence: (string | null)[] = [];
  const counts: Record<string, number> = Object.fromEntries(expected.map((name) => [name, 0]));
  const errors: string[] = [];
  let missingHeader = 0;
  let failed = 0;

  for (let i = 0; i < requests; i++) {
    options.signal?.throwIfAborted();
    try {
      const res = await httpProbe(options.url, {
        timeoutMs: options.timeoutMs ?? 5_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const servedBy = headerValue(res, header) ?? null;
      sequence.push(servedBy);
      if (servedBy === null) missingHeader++;
      else counts[servedBy] = (counts[servedBy] ?? 0) + 1;
      if (res.status < 200 || res.status > 299) {
        failed++;
        if (errors.length < 3) errors.push(`request ${i + 1}: HTTP ${res.status}`);
      }
    } catch (error) {
      if (options.signal?.aborted) throw error;
      sequence.push(null);
      failed++;
      if (errors.length < 3) errors.push(`request ${i + 1}: ${(error as Error).message}`);
    }
  }

  const expectedSharePct = expected.length ? 100 / expected.length : 0;
  const sharesPct = Object.fromEntries(
    Object.entries(counts).map(([name, n]) => [name, round1((100 * n) / requests)]),
  );
  const notServing = expected.filter((name) => counts[name] === 0);
  const unexpected = Object.keys(counts).filter((name) => !expected.includes(name));
  const haproxyDown = options.statsUrl ? await downServers(options.statsUrl, expected) : [];

  const problems: string[] = [];
  if (failed > 0) problems.push(`${failed} of ${requests} requests failed (${errors.join("; ")})`);
  if (missingHeader > 0) problems.push(`${missingHeader} of ${requests} answers had no ${header} header`);
  for (const name of notServing) {
    const seen = haproxyDown.find((s) => s.server === name);
    const why = seen
      ? ` — HAProxy reports it ${seen.status} (${[seen.checkStatus, seen.checkDetail].filter(Boolean).join(", ")})`
      : "";
    problems.push(`backend ${name} served none of the ${requests} requests${why}`);
  }
  for (const server of haproxyDown) {
    if (!notServing.includes(server.server)) {
      problems.push(`HAProxy reports backend ${server.server} ${server.status} (${server.checkStatus})`);
    }
  }
  if (unexpected.length) problems.push(`unexpected ${header} values: ${unexpected.join(", ")}`);
  for (const name of expected) {
    const share = sharesPct[name] ?? 0;
    if (counts[name] !== 0 && Math.abs(share - expectedSharePct) > tolerancePct) {
      problems.push(
        `backend ${name} served ${share}% of requests; an even split is ${round1(expectedSharePct)}% ± ${tolerancePct} points`,
      );
    }
  }

  return {
    ok: problems.length === 0 && expected.length > 0,
    url: options.url,
    requests,
    sequence,
    counts,
    sharesPct,
    expectedSharePct: round1(expectedSharePct),
    tolerancePct,
    missingHeader,
    failed,
    notServing,
    unexpected,
    haproxyDown,
    problems: expected.length ? problems : ["no expected backends were given", ...problems],
  };
}

/** Human lines: the sequence, then per-backend counts, then problems. */
export function formatRoundRobinReport(report: RoundRobinReport): string[] {
  const lines = [
    `${report.ok ? "PASS" : "FAIL"} round robin through ${report.url}: ${report.requests} requests`,
    `sequence: ${report.sequence.map((s) => s ?? "-").join(" ")}`,
  ];
  for (const [name, count] of Object.entries(report.counts)) {
    lines.push(`  ${name.padEnd(12)} ${String(count).padStart(4)}  ${report.sharesPct[name] ?? 0}%`);
  }
  for (const problem of report.problems) lines.push(`problem: ${problem}`);
  return lines;
}

async function downServers(statsUrl: string, expected: string[]): Promise<HaproxyServerStatus[]> {
  try {
    const servers = await fetchHaproxyServerStatus(statsUrl);
    return servers.filter(
      (s) => expected.includes(s.server) && !/^UP/.test(s.status) && s.status !== "no check",
    );
  } catch {
    // Stats are a bonus for the diagnosis; the request results alone decide pass/fail.
    return [];
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
