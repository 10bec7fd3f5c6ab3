import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareResults, readResultFile } from "./compare.js";
import { formatCompareMarkdown, formatCompareText } from "./compare-format.js";
import { analyzeFaultWindows } from "./fault-windows/fault-windows.js";
import { runBench } from "./run-bench.js";
import { type HaproxyTiming, startLoopbackHaproxy } from "./test-support/haproxy-lb.js";
import type { BenchResult, FaultRecord } from "./types.js";
import { writeReports } from "./write-reports.js";

const WARMUP_MS = 1000;
const FAULT_AT_MS = 1500;
const FAULT_FOR_MS = 4000;
const FAULT = "stop app2 at 1.5s for 4s";

/**
 * One real run: the bench at a constant rate through the real HAProxy while app2's process is
 * killed and later started again on its port; the fault's window is what really happened, on the
 * bench's clock (taken from its first progress report), as `bench run --lab --fault` records it.
 */
async function faultRun(dir: string, timing: HaproxyTiming): Promise<string> {
  await mkdir(dir, { recursive: true });
  const lb = await startLoopbackHaproxy(dir, timing);
  try {
    let origin: number | undefined;
    let started: () => void = () => {};
    const benchStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const record: FaultRecord = {
      fault: FAULT,
      action: "stop",
      target: "app2",
      plannedStartMs: WARMUP_MS + FAULT_AT_MS,
      plannedEndMs: WARMUP_MS + FAULT_AT_MS + FAULT_FOR_MS,
      appliedAtMs: null,
      activeAtMs: null,
      undoneAtMs: null,
      undoReason: null,
      error: null,
    };
    const at = async (ms: number) => {
      await new Promise((r) => setTimeout(r, Math.max(0, origin! + ms - performance.now())));
      return performance.now() - origin!;
    };
    const fault = (async () => {
      await benchStarted;
      record.appliedAtMs = await at(record.plannedStartMs);
      await lb.kill("app2");
      record.activeAtMs = performance.now() - origin!;
      await at(record.plannedEndMs);
      await lb.restart("app2");
      record.undoneAtMs = performance.now() - origin!;
      record.undoReason = "window-end";
    })();
    const bench = await runBench(
      { url: lb.url, rate: 200, connections: 32, durationMs: 8000, warmupMs: WARMUP_MS, timeoutMs: 3000 },
      {
        onProgress: (p) => {
          if (origin === undefined) {
            origin = performance.now() - p.elapsedMs;
            started();
          }
        },
      },
    );
    await fault;
    const faultWindows = analyzeFaultWindows(bench.series, [
      { label: record.fault, startMs: record.appliedAtMs!, endMs: record.undoneAtMs! },
    ]);
    const result: BenchResult = { ...bench, faults: [record], faultWindows };
    return (await writeReports(result, dir)).resultJson;
  } finally {
    await lb.stop();
  }
}

describe("bench compare of two real fault runs (HAProxy, a backend killed and restarted)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("pairs the faults, shows each run's window figures from its result.json, and warns when the faults differ", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labgate-compare-faults-"));
    dirs.push(dir);
    // The comparison: slow checks (out after 2-3 s: the third failed check 1 s apart) against
    // `inter 200ms fall 1` (out within 0.2-0.4 s). Each 503 comes ~0.5 s after its send (HAProxy's retry).
    const fileA = await faultRun(join(dir, "a"), { inter: "1s", fall: 3, rise: 1 });
    const fileB = await faultRun(join(dir, "b"), { inter: "200ms", fall: 1, rise: 1 });
    const [a, b] = await Promise.all([readResultFile(fileA), readResultFile(fileB)]);
    const [wa] = a.faultWindows!;
    const [wb] = b.faultWindows!;

    // The fault really hurt: errors inside the window, app2 served less of it than app1.
    for (const w of [wa!, wb!]) {
      expect(w.errors, JSON.stringify(w)).toBeGreaterThan(0);
      expect(Object.values(w.errorKinds!).reduce((n, c) => n + c, 0)).toBe(w.errors);
      const share = (name: string) => w.backends!.find((x) => x.name === name)?.sharePct ?? 0;
      expect(share("app1")).toBeGreaterThan(share("app2"));
    }
    // Slower checks take app2 out later: detection follows inter × fall (≥ 1.5 s apart, more than an interval).
    expect(wa!.detectionMs!).toBeGreaterThan(wb!.detectionMs!);

    const c = compareResults(a, b);
    const rows = c.rows.filter((r) => r.group === "fault");
    const row = (figure: string) => rows.find((r) => r.metric === `${FAULT}: ${figure}`);
    expect(c.faults?.pairs).toEqual([{ a: FAULT, b: FAULT, matchedBy: "text" }]);
    const expected: Array<[string, number | null, number | null]> = [
      ["errors", wa!.errors, wb!.errors],
      ["error share", wa!.errorSharePct, wb!.errorSharePct],
      ["p50 in window", wa!.p50Us, wb!.p50Us],
      ["p99 in window", wa!.p99Us, wb!.p99Us],
      ["max in window", wa!.maxUs, wb!.maxUs],
      ["detection", wa!.detectionMs! * 1000, wb!.detectionMs! * 1000],
      ...(["app1", "app2"] as const).map((n): [string, number, number] => [
        `${n} share in window`,
        wa!.backends!.find((x) => x.name === n)?.sharePct ?? 0,
        wb!.backends!.find((x) => x.name === n)?.sharePct ?? 0,
      ]),
    ];
    for (const [figure, va, vb] of expected) {
      expect(row(figure), figure).toMatchObject({ a: va, b: vb, aRounds: [va], bRounds: [vb] });
      // One window a side: never a p-value, never "better" or "worse".
      expect(row(figure)!.pValue).toBeNull();
      expect(["unknown", "within noise"]).toContain(row(figure)!.verdict);
    }
    if (wa!.recoveryMs !== null && wb!.recoveryMs !== null)
      expect(row("recovery")).toMatchObject({ a: wa!.recoveryMs * 1000, b: wb!.recoveryMs * 1000 });
    else expect(c.warnings.join("\n")).toMatch(/No recovery to compare/);
    // Detection is rounded up to whole intervals: a difference under one interval is within noise.
    const detection = row("detection")!;
    expect(detection.noise).toBe(a.series.intervalMs * 1000);
    expect(detection.verdict).toBe(
      Math.abs(detection.b - detection.a) < detection.noise! ? "within noise" : "unknown",
    );
    expect(c.warnings.join("\n")).not.toMatch(/faults differ/);
    // More rounds cannot be asked of a fault run: the warning says why nothing is judged instead.
    expect(c.warnings.join("\n")).toMatch(
      /a run with faults has one round \(--fault does not combine with --repeat\)/,
    );
    expect(c.warnings.join("\n")).not.toMatch(/rerun both with --repeat/);

    const text = formatCompareText(c);
    expect(text).toMatch(/\nFault windows\n/);
    expect(text).toMatch(new RegExp(`${FAULT}: detection\\s+\\S+\\s+\\S+`));
    const md = formatCompareMarkdown(c);
    expect(md).toContain("**Fault windows**");
    expect(md).toContain(`| ${FAULT}: app2 share in window |`);

    // B with another fault: nothing paired, and the warning names both.
    const drained: BenchResult = {
      ...b,
      faults: b.faults!.map((f) => ({
        ...f,
        fault: "drain app1 at 1.5s for 4s",
        action: "drain",
        target: "app1",
      })),
      faultWindows: b.faultWindows!.map((w) => ({ ...w, label: "drain app1 at 1.5s for 4s" })),
    };
    const differ = compareResults(a, drained);
    expect(differ.rows.some((r) => r.group === "fault")).toBe(false);
    expect(differ.warnings.join("\n")).toContain(
      `The runs' faults differ: only in A: '${FAULT}'; only in B: 'drain app1 at 1.5s for 4s'.`,
    );
    expect(formatCompareMarkdown(differ)).toMatch(/> ⚠ The runs' faults differ/);
    // Same action and target at another time: paired, and said so.
    const later: BenchResult = {
      ...b,
      faultWindows: b.faultWindows!.map((w) => ({ ...w, label: "stop app2 at 2s for 4s" })),
      faults: b.faults!.map((f) => ({ ...f, fault: "stop app2 at 2s for 4s" })),
    };
    const moved = compareResults(a, later);
    expect(moved.faults?.pairs).toEqual([
      { a: FAULT, b: "stop app2 at 2s for 4s", matchedBy: "action-target" },
    ]);
    expect(moved.warnings.join("\n")).toMatch(/same action on the same target, with other timing/);
    // A run without faults against one with: a warning, no fault rows.
    const { faults: _f, faultWindows: _w, ...plain } = b;
    const none = compareResults(a, plain as BenchResult);
    expect(none.rows.some((r) => r.group === "fault")).toBe(false);
    expect(none.warnings.join("\n")).toMatch(/run A injected 'stop app2 at 1\.5s for 4s', run B none/);

    // The reports of the run carry the same window figures.
    const reportMd = await readFile(join(dir, "a", "report.md"), "utf8");
    expect(reportMd).toContain("## Fault windows");
    expect(reportMd).toMatch(
      new RegExp(`\\| ${FAULT} \\| [\\d.]+s-[\\d.]+s \\| ${wa!.errors} \\(${wa!.errorSharePct}%\\) \\|`),
    );
  }, 180_000);
});
