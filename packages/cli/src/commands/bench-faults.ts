import { BenchOptionError, loadSloFileFaults } from "@labgate/bench";
import { InvalidInputError } from "@labgate/core";
import {
  assertFaultsFit,
  type FaultSpec,
  faultGateStep,
  labAppNames,
  labEndpoint,
  labFaultActuator,
  NotConfirmedError,
  type PreparedFaults,
  parseFaultList,
  parseFaults,
  type StepDescription,
} from "@labgate/lxd-lab";
import { createOutput } from "../output.js";
import { type BenchLabFlags, refuseFaultsWithoutLab, wantsLab } from "./bench-lab-flags.js";
import { type LabIo, type LabTarget, makeGate, resolveLab } from "./lab-context.js";

/** What the fault gate shows: the faults, their undo, and (when asked) what each answer does. */
function explainFaults(step: StepDescription, yes: boolean): string {
  return [
    "",
    `  ${step.title}`,
    `  ${step.why}`,
    "  Faults, each followed by its undo:",
    ...step.calls.map((c) => `    $ ${c.display}`),
    yes ? "  Confirmed by --yes." : "  y: inject them and run the bench   n / q: do nothing and stop",
    "",
  ].join("\n");
}

/** A built lab the bench targets: its LB URL, and its backends for faults. */
export interface BenchLab {
  target: LabTarget;
  url: string;
}

/** `--lab [SPEC]`: the lab (spec file or lab.json/lab.yaml/built-in default) and its LB URL from its state. */
export async function resolveBenchLab(flags: BenchLabFlags, io: LabIo): Promise<BenchLab | undefined> {
  if (!wantsLab(flags)) {
    await refuseFaultsWithoutLab(flags);
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

/** The faults of this run and where they came from; --fault replaces the others. */
export interface ChosenFaults {
  faults: FaultSpec[];
  /** "--fault", "slos.yaml (faults:)" or "lab.json (faults:)". */
  source: string;
}

/**
 * Which faults run: --fault on the command line if given, else the SLO file's `faults:`, else the lab
 * spec's `faults:`. Each is checked against the lab's apps and this run's --duration, naming the entry.
 */
export async function chooseFaults(
  lab: BenchLab,
  flags: BenchLabFlags,
  durationMs: number,
): Promise<ChosenFaults | undefined> {
  if (flags.fault?.length) {
    const faults = parseFaults(flags.fault);
    assertFaultsFit(faults, durationMs);
    return { faults, source: "--fault" };
  }
  const context = {
    backends: labAppNames(lab.target.spec.apps),
    runMs: durationMs,
    runField: "--duration",
  };
  const fromFile = flags.sloFile ? await loadSloFileFaults(flags.sloFile) : undefined;
  if (flags.sloFile && fromFile !== undefined) {
    const texts = parseFaultList(fromFile, "faults", failIn(flags.sloFile), context);
    return { faults: parseFaults(texts), source: `${flags.sloFile} (faults:)` };
  }
  const fromSpec = lab.target.spec.faults;
  if (fromSpec?.length) {
    const texts = parseFaultList(fromSpec, "faults", failIn(lab.target.source), context);
    return { faults: parseFaults(texts), source: `${lab.target.source} (faults:)` };
  }
  return undefined;
}

function failIn(file: string) {
  return (field: string, message: string, hint?: string): never => {
    throw new InvalidInputError("FAULTS_INVALID", `${file}: ${field}: ${message}`, {
      hint: hint ?? `Fix ${field} in ${file}.`,
      details: { file, field },
    });
  };
}

/** The faults, checked against the run and confirmed at the gate (unless --yes); nothing has run yet. */
export async function prepareFaults(
  lab: BenchLab,
  flags: BenchLabFlags,
  durationMs: number,
  repeat: number,
  io: LabIo,
  signal: AbortSignal,
): Promise<PreparedFaults | undefined> {
  const chosen = await chooseFaults(lab, flags, durationMs);
  if (!chosen) return undefined;
  const { faults } = chosen;
  if (repeat > 1) {
    throw new BenchOptionError(
      `Faults (from ${chosen.source}) with --repeat: faults run once, in one measured run.`,
      "Leave out --repeat when injecting faults (compare runs with `labgate bench compare`), or bench the LB with --url and without --lab.",
    );
  }
  const out = createOutput(false, io);
  if (chosen.source !== "--fault")
    out.info(`Faults from ${chosen.source}; --fault on the command line replaces them.`);
  const actuator = await labFaultActuator(lab.target, (m) => out.info(m), signal, faults);
  // Every target and action is checked before the gate: a typo must not cost a confirmation.
  for (const f of faults) actuator(f);
  const step = faultGateStep(faults, lab.target).description;
  const request = { step, action: "apply" as const, index: 1, total: 1 };
  // A question needs its context even with --quiet; with --yes the explanation is progress like any other.
  const explanation = explainFaults(step, Boolean(flags.yes));
  if (flags.yes) out.info(explanation.replace(/\n$/, ""));
  else io.stderr.write(explanation);
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
