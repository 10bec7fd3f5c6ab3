import { BenchOptionError } from "./errors.js";

/** The longest wait a Node timer can hold (2^31-1 ms, 24.8 days): longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const UNIT_MS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses "10s", "500ms", "1m30s", "2.5s" into milliseconds. A bare number is seconds (as wrk and
 * autocannon read it). `what` names the flag so the error says which one is wrong.
 */
export function parseDuration(text: string, what: string): number {
  const ms = parseUnbounded(text, what);
  if (ms > MAX_TIMER_MS) {
    throw new BenchOptionError(
      `${what} "${text}" is longer than any timer can wait (about 24 days).`,
      `Use a shorter ${what}, e.g. 10s, 5m or 1h.`,
      { [what]: text },
    );
  }
  return ms;
}

function parseUnbounded(text: string, what: string): number {
  const input = text.trim();
  if (/^\d+(\.\d+)?$/.test(input)) return Number(input) * 1000;
  const re = /(\d+(?:\.\d+)?)(us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < input.length) {
    re.lastIndex = pos;
    const match = re.exec(input);
    if (!match) {
      throw new BenchOptionError(
        `${what} "${text}" is not a duration.`,
        `Use a number with a unit, e.g. 10s, 500ms, 1m30s (units: us, ms, s, m, h).`,
        { [what]: text },
      );
    }
    total += Number(match[1]) * (UNIT_MS[match[2]!] ?? 0);
    pos = re.lastIndex;
  }
  if (input.length === 0) {
    throw new BenchOptionError(`${what} is empty.`, "Use a duration such as 10s or 500ms.");
  }
  return total;
}

/** Microseconds to a short human string: 850µs, 12.3ms, 1.25s. */
export function formatMicros(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return "n/a";
  const abs = Math.abs(us);
  if (abs < 1000) return `${round(us, abs < 10 ? 2 : abs < 100 ? 1 : 0)}µs`;
  if (abs < 1_000_000) return `${round(us / 1000, abs < 10_000 ? 2 : abs < 100_000 ? 1 : 0)}ms`;
  return `${round(us / 1_000_000, 2)}s`;
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
