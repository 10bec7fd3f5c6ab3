import { describeFault, type FaultSpec, parseFault } from "../faults/fault-spec.js";
import { describeValue } from "./describe-value.js";

/** Reports one problem at a field path (`faults[1]`), with what to write instead. */
export type FieldFail = (field: string, message: string, hint?: string) => never;

/** What a `faults:` list is checked against: the lab's backends and the measured run it must fit in. */
export interface FaultListContext {
  /** The lab's app names (app1, app2 ...); a fault naming anything else is refused. */
  backends?: readonly string[];
  /** The measured run in ms; every fault must end inside it. */
  runMs?: number;
  /** Where runMs comes from, for the hint (`bench.duration`, `--duration`). */
  runField?: string;
}

/** How a fault is written; shown wherever a fault entry is refused (the lab schema too). */
export const FAULT_FORM_HINT =
  'Write each fault in the --fault form, e.g. faults: ["stop app2 at 2s for 3s", "drain app1 at 1s for 2s"].';
const FORM_HINT = FAULT_FORM_HINT;

/**
 * Validates a `faults:` list (lab spec or `--slo-file`): a list of strings in the `--fault` grammar.
 * Each problem names its entry (`faults[1]`) and what to write; the same rules as on the command line
 * (known backend, window inside the run, no two faults on one backend at once).
 */
export function parseFaultList(
  value: unknown,
  field: string,
  fail: FieldFail,
  context: FaultListContext = {},
): string[] {
  if (!Array.isArray(value)) return fail(field, "must be a list of faults", FORM_HINT);
  const faults = value.map((entry, i): FaultSpec => {
    const at = `${field}[${i}]`;
    if (typeof entry !== "string" || !entry.trim())
      return fail(at, `${describeValue(entry)} is not a fault`, FORM_HINT);
    try {
      return parseFault(entry);
    } catch (error) {
      return fail(at, (error as Error).message, (error as { hint?: string }).hint);
    }
  });
  for (const [i, f] of faults.entries()) {
    const at = `${field}[${i}]`;
    if (context.backends && !context.backends.includes(f.target)) {
      fail(
        at,
        `'${f.text}' acts on ${f.target}, which is not one of the lab's apps (${context.backends.join(", ")})`,
        "Name one of the apps; their names come from apps.namePrefix and apps.count (app1, app2 ... by default).",
      );
    }
    if (context.runMs !== undefined && f.atMs + f.forMs > context.runMs) {
      fail(
        at,
        `'${f.text}' ends at ${formatMs(f.atMs + f.forMs)}, after the measured run ends at ${formatMs(context.runMs)}` +
          (context.runField ? ` (${context.runField})` : ""),
        `Start it earlier or shorten it, or lengthen ${context.runField ?? "the run"}: recovery is measured after the fault, inside the run.`,
      );
    }
    for (const [j, g] of faults.slice(0, i).entries()) {
      if (g.target === f.target && f.atMs < g.atMs + g.forMs && g.atMs < f.atMs + f.forMs) {
        fail(
          at,
          `'${f.text}' overlaps ${field}[${j}] ('${g.text}') on ${f.target}: undoing one would undo the other`,
          `Start it at ${formatMs(g.atMs + g.forMs)} or later (${describeFault(g)}), or act on another app.`,
        );
      }
    }
  }
  return faults.map((f) => f.text);
}

function formatMs(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}

/** The apps' instance names, as every provider names them: `${namePrefix}${n}`, n from 1. */
export function labAppNames(apps: { count: number; namePrefix: string }): string[] {
  return Array.from({ length: apps.count }, (_, i) => `${apps.namePrefix}${i + 1}`);
}
