import { fetchHaproxyServerStatus } from "../haproxy/stats-csv.js";

/** One change of a server's status as HAProxy's stats showed it, in ms on the caller's clock. */
export interface ServerTransition {
  atMs: number;
  server: string;
  status: string;
}

export interface LbServerWatch {
  /** Stops polling; resolves with every status change seen (the first poll counts as one per server). */
  stop(): Promise<ServerTransition[]>;
}

/** How often the stats are read: the LB-side detection is known to ± this much. */
export const LB_WATCH_INTERVAL_MS = 50;

/**
 * Polls HAProxy's stats CSV while faults run, keeping only status changes: when HAProxy itself took a
 * backend out (DOWN) and put it back. This is detection as the LB sees it; users may have felt the
 * fault for less (HAProxy's retries redispatch refused connections) or more (requests in flight).
 * A stats page that does not answer leaves a gap, never an error: the bench's own figures still stand.
 */
export function watchLbServers(statsUrl: string, clock: () => number): LbServerWatch {
  const transitions: ServerTransition[] = [];
  const last = new Map<string, string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = clock();
      const servers = await fetchHaproxyServerStatus(statsUrl, 1_000).catch(() => undefined);
      const atMs = Math.round(clock());
      for (const s of servers ?? []) {
        if (last.get(s.server) === s.status) continue;
        last.set(s.server, s.status);
        transitions.push({ atMs, server: s.server, status: s.status });
      }
      const wait = LB_WATCH_INTERVAL_MS - (clock() - started);
      if (running && wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return transitions;
    },
  };
}

/** ms from `fromMs` until HAProxy showed `server` DOWN (first time in [fromMs, toMs]); null if never. */
export function lbDownAfter(
  transitions: readonly ServerTransition[],
  server: string,
  fromMs: number,
  toMs = Number.POSITIVE_INFINITY,
): number | null {
  const down = transitions.find(
    (t) => t.server === server && t.atMs >= fromMs && t.atMs <= toMs && t.status.startsWith("DOWN"),
  );
  return down ? down.atMs - fromMs : null;
}
