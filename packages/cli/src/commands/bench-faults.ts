import {
  analyzeFaultWindows,
  BenchOptionError,
  type BenchResult,
  type FaultWindowStats,
} from "@labgate/bench";
import {
  assertFaultsFit,
  describeFault,
  type FaultActuator,
  type FaultRunResult,
  type FaultSpec,
  type FaultTimeline,
  faultGateStep,
  labEndpoint,
  labFaultActuator,
  NotConfirmedError,
  parseFaults,
  runFaults,
} from "@labgate/lxd-lab";
import { type LabIo, type LabTarget, makeGate, resolveLab } from "./lab-context.js";

/** What the fault gate shows: the faults, their undo, and (when asked) what each answer does. */
function explainFaults(step: { title: string; why: string; commands: string[] }, yes: boolean): string {
  return [
    "",
    `  ${step.title}`,
    `  ${step.why}`,
    "  Faults, each followed by its undo:",
    ...step.commands.map((c) => `    $ ${c}`),
    yes ? "  Confirmed by --yes." : "  y: inject them and run the bench   n / q: do nothing and stop",
    "",
  ].join("\n");
}

export interface BenchLabFlags {
  lab?: string | boolean;
  stateDir?: string;
  fault?: string[];
  yes?: boolean;
}

/** A built lab the bench targets: its LB URL, and its backends for faults. */
export interface BenchLab {
  target: LabTarget;
  url: string;
}

/** `--lab [SPEC]`: the lab (spec file or lab.json/lab.yaml/built-in default) and its LB URL from its state. */
export async function resolveBenchLab(flags: BenchLabFlags, io: LabIo): Promise<BenchLab | undefined> {
  if (flags.lab === undefined || flags.lab === false) {
    if (flags.fault?.length) {
      throw new BenchOptionError(
        "--fault needs --lab: faults act on a lab's backends, which a bare --url does not name.",
        "Add --lab (the lab in this directory) or --lab lab.json, e.g. labgate bench run --lab --fault 'stop app2 at 5s for 10s'.",
      );
    }
    return undefined;
  }
  const target = await resolveLab(
    {
      ...(typeof flags.lab === "string" ? { spec: flags.lab } : {}),
      ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    },
    io,
    true,
  );
  return { target, url: labEndpoint(target.provider, target.spec) };
}

/** The faults, checked against the run and confirmed at the gate (unless --yes); nothing has run yet. */
export interface PreparedFaults {
  faults: FaultSpec[];
  actuator: FaultActuator;
}

export async function prepareFaults(
  lab: BenchLab,
  flags: BenchLabFlags,
  durationMs: number,
  repeat: number,
  io: LabIo,
  signal: AbortSignal,
): Promise<PreparedFaults | undefined> {
  if (!flags.fault?.length) return undefined;
  const faults = parseFaults(flags.fault);
  assertFaultsFit(faults, durationMs);
  if (repeat > 1) {
    throw new BenchOptionError(
      "--fault with --repeat: faults run once, in one measured run.",
      "Leave out --repeat when injecting faults (compare runs with `labgate bench compare`).",
    );
  }
  const actuator = await labFaultActuator(lab.target, (m) => io.stderr.write(`${m}\n`), signal, faults);
  // Every target and action is checked before the gate: a typo must not cost a confirmation.
  for (const f of faults) actuator(f);
  const step = faultGateStep(faults, lab.target);
  const request = { step, action: "apply" as const, index: 1, total: 1 };
  io.stderr.write(explainFaults(step, Boolean(flags.yes)));
  const gate = makeGate(flags.yes, io);
  try {
    const decision = await gate.confirm(request, signal);
    if (decision !== "yes") {
      throw new NotConfirmedError(
        "DECLINED",
        "The fault run was not confirmed; nothing was measured or changed.",
        "Run again and answer yes, or pass --yes.",
      );
    }
  } finally {
    gate.close();
  }
  return { faults, actuator };
}

/**
 * Starts the faults on the bench's clock: offsets count from the start of the measured window, so
 * each fault is shifted by the warm-up. Settles (never rejects) once every fault is undone.
 */
export function startFaults(
  prepared: PreparedFaults,
  warmupMs: number,
  signal: AbortSignal,
  log: (m: string) => void,
): Promise<FaultRunResult | Error> {
  const shifted = prepared.faults.map((f) => ({ ...f, atMs: f.atMs + warmupMs }));
  const byShifted = new Map(shifted.map((s, i) => [s, prepared.faults[i] as FaultSpec]));
  return runFaults(shifted, (f) => prepared.actuator(byShifted.get(f) ?? f), { signal, log }).catch(
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
}

/** One fault as it happened, for result.json and the text report (ms since the run started, warm-up included). */
export interface FaultRecord {
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

export function faultRecords(timelines: FaultTimeline[]): FaultRecord[] {
  return timelines.map((t) => ({
    fault: t.fault.text,
    action: t.fault.action,
    target: t.fault.target,
    plannedStartMs: t.fault.atMs,
    plannedEndMs: t.fault.atMs + t.fault.forMs,
    appliedAtMs: t.appliedAtMs ?? null,
    activeAtMs: t.activeAtMs ?? null,
    undoneAtMs: t.undoneAtMs ?? null,
    undoReason: t.undoReason ?? null,
    error: t.error ?? null,
  }));
}

export function formatFaultRecords(records: FaultRecord[], faults: FaultSpec[]): string {
  const s = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(2)}s`);
  return records
    .map((r, i) => {
      const f = faults[i];
      const what = f ? describeFault(f) : r.fault;
      const state =
        r.appliedAtMs === null
          ? "not applied"
          : `applied ${s(r.appliedAtMs)}, active ${s(r.activeAtMs)}, undone ${s(r.undoneAtMs)} (${r.undoReason ?? "?"})`;
      return `fault ${what}: ${state}${r.error ? `; ${r.error}` : ""}`;
    })
    .join("\n");
}

/**
 * Each fault's window as it really happened (signal sent → backend back), on the bench's clock: the
 * fault runner starts right before the bench, so the two clocks differ by the bench's start-up only.
 */
export function analyzeFaultRecords(result: BenchResult, records: FaultRecord[]): FaultWindowStats[] {
  const windows = records
    .filter((r) => r.appliedAtMs !== null)
    .map((r) => ({
      label: r.fault,
      startMs: r.appliedAtMs as number,
      endMs: r.undoneAtMs ?? r.plannedEndMs,
    }));
  return analyzeFaultWindows(result.series, windows);
}
