import { type FaultWindowStats, faultWindowsOf } from "./fault-windows/fault-windows.js";
import type { BenchResult } from "./types.js";

/** One fault window of a run, with what the fault did to what. */
export interface FaultSide {
  text: string;
  action: string;
  target: string;
  window: FaultWindowStats;
}

/** A fault of run A and the fault of run B it is compared with. */
export interface FaultPair {
  a: FaultSide;
  b: FaultSide;
  /** "text": the same fault as written; "action-target": same action on the same target, other timing. */
  matchedBy: "text" | "action-target";
}

/** A fault figure: one number per run (faults run in single-round runs). */
export interface FaultFigure {
  metric: string;
  unit: "us" | "pct" | "count";
  a: number;
  b: number;
  /** null: a change is neither better nor worse (a backend's share). */
  higherIsBetter: boolean | null;
  /**
   * Detection and recovery are rounded up to whole series intervals, so two readings of the same
   * behaviour can differ by up to one interval: that interval in the metric's unit; null otherwise.
   */
  resolution: number | null;
}

/** Each fault window of a run joined with its record (by the fault's text, in order); null without faults. */
export function faultSides(r: BenchResult): FaultSide[] | null {
  const windows = faultWindowsOf(r);
  if (!windows) return null;
  const records = [...(r.faults ?? [])].filter((f) => f.appliedAtMs !== null);
  return windows.map((window) => {
    const i = records.findIndex((f) => f.fault === window.label);
    const record = i >= 0 ? records.splice(i, 1)[0] : undefined;
    // Results without records: the fault text starts with its action and target ("stop app2 at …").
    const [action = "", target = ""] = window.label.trim().split(/\s+/);
    return {
      text: window.label,
      action: record?.action ?? action,
      target: record?.target ?? target,
      window,
    };
  });
}

/**
 * Pairs the faults of two runs: first the same fault as written, then the same action on the same
 * target (in order); says what could not be paired.
 */
export function matchFaults(
  a: FaultSide[] | null,
  b: FaultSide[] | null,
): { pairs: FaultPair[]; warnings: string[] } {
  if (!a && !b) return { pairs: [], warnings: [] };
  const list = (xs: FaultSide[]) => xs.map((x) => `'${x.text}'`).join(", ");
  if (!a || !b) {
    const [withName, withoutName, faults] = a ? ["A", "B", a] : ["B", "A", b as FaultSide[]];
    return {
      pairs: [],
      warnings: [
        `The runs' faults differ: run ${withName} injected ${list(faults)}, run ${withoutName} none; their errors and latencies are not measured under the same conditions, and no fault figures are compared.`,
      ],
    };
  }
  const restA = [...a];
  const restB = [...b];
  const pairs: FaultPair[] = [];
  const take = (same: (x: FaultSide, y: FaultSide) => boolean, matchedBy: FaultPair["matchedBy"]) => {
    for (const x of [...restA]) {
      const j = restB.findIndex((y) => same(x, y));
      if (j < 0) continue;
      pairs.push({ a: x, b: restB.splice(j, 1)[0] as FaultSide, matchedBy });
      restA.splice(restA.indexOf(x), 1);
    }
  };
  take((x, y) => x.text === y.text, "text");
  take((x, y) => x.action === y.action && x.target === y.target, "action-target");
  pairs.sort((p, q) => a.indexOf(p.a) - a.indexOf(q.a));
  const warnings: string[] = [];
  for (const p of pairs.filter((x) => x.matchedBy === "action-target"))
    warnings.push(
      `A's fault '${p.a.text}' is compared with B's '${p.b.text}': the same action on the same target, with other timing.`,
    );
  if (restA.length || restB.length)
    warnings.push(
      `The runs' faults differ: ${[
        restA.length ? `only in A: ${list(restA)}` : "",
        restB.length ? `only in B: ${list(restB)}` : "",
      ]
        .filter(Boolean)
        .join("; ")}. Those faults are not compared.`,
    );
  return { pairs, warnings };
}

/** The figures compared for one pair of faults: errors, latency in the window, detection, recovery, who served. */
export function faultFigures(pair: FaultPair): FaultFigure[] {
  const wa = pair.a.window;
  const wb = pair.b.window;
  const name = pair.a.text;
  const figures: FaultFigure[] = [];
  const add = (
    metric: string,
    unit: FaultFigure["unit"],
    pick: (w: FaultWindowStats) => number | null | undefined,
    higherIsBetter: boolean | null,
    resolution: number | null = null,
  ) => {
    const x = pick(wa);
    const y = pick(wb);
    if (typeof x === "number" && typeof y === "number")
      figures.push({ metric: `${name}: ${metric}`, unit, a: x, b: y, higherIsBetter, resolution });
  };
  add("errors", "count", (w) => w.errors, false);
  add("error share", "pct", (w) => w.errorSharePct, false);
  add("p50 in window", "us", (w) => w.p50Us, false);
  add("p99 in window", "us", (w) => w.p99Us, false);
  add("max in window", "us", (w) => w.maxUs, false);
  // No error seen: nothing to detect, 0 (as the detection SLO reads it).
  add("detection", "us", (w) => (w.detectionMs ?? 0) * 1000, false, resolutionUs(wa, wb));
  add(
    "recovery",
    "us",
    (w) => (w.recoveryMs === null ? null : w.recoveryMs * 1000),
    false,
    resolutionUs(wa, wb),
  );
  const backends = [...new Set([...(wa.backends ?? []), ...(wb.backends ?? [])].map((x) => x.name))].sort();
  for (const backend of backends)
    add(
      `${backend} share in window`,
      "pct",
      (w) => (w.backends ? (w.backends.find((x) => x.name === backend)?.sharePct ?? 0) : null),
      null,
    );
  return figures;
}

function resolutionUs(a: FaultWindowStats, b: FaultWindowStats): number {
  return Math.max(a.resolutionMs, b.resolutionMs) * 1000;
}
