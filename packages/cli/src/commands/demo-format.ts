import {
  benchSettings,
  type DemoPhaseEvent,
  type DemoResult,
  describeLoad,
  type LabProvider,
  type LabSpec,
} from "@labgate/lxd-lab";
import { formatRun, formatVerify } from "./lab-format.js";

/** The whole demo in one line, shown before its first phase. */
export function demoIntro(spec: LabSpec, provider: LabProvider, keep: boolean | undefined): string {
  return `labgate demo: build lab "${spec.name}" (provider ${provider.name}), verify round robin, benchmark for ${describeLoad(benchSettings(spec))} against ${
    spec.slos.join(", ") || "no SLOs"
  }, write the report, then ${keep ? "leave the lab up (--keep)" : "tear the lab down"}.`;
}

/**
 * What people see (stderr) as a phase starts (the intro before the first one, then "== n/N title" and
 * its why) and ends (what it did); "" for nothing.
 */
export function formatPhaseEvent({ phase, at, result }: DemoPhaseEvent, intro: string): string {
  if (at === "end") {
    if (phase.id === "up" && result.up) return formatRun(result.up);
    if (phase.id === "verify" && result.verify) return formatVerify(result.verify);
    if (phase.id === "down" && result.down) return formatRun(result.down);
    return "";
  }
  const numbered = result.phases.filter((p) => !p.final);
  const header = phase.final
    ? `== ${phase.title}`
    : `== ${numbered.indexOf(phase) + 1}/${numbered.length} ${phase.title}`;
  const why = phase.why.split("\n").map((line) => `   ${line}`);
  return [...(phase === result.phases[0] ? [intro] : []), "", header, ...why].join("\n");
}

/** stdout without --json: where the report is and the SLO verdict. */
export function formatDemoResult(r: DemoResult): string {
  if (!r.bench?.available) return "no benchmark ran";
  const untrusted = r.bench.untrustworthy
    ? ` (the load generator was not trustworthy: ${r.bench.untrustworthy.join("; ")}; measure again on a quieter machine)`
    : "";
  return `report: ${r.bench.reports.reportHtml}\nSLOs: ${r.bench.slosPassed === false ? "FAILED" : "passed"}${untrusted}`;
}

export const KEPT_NOTE =
  "\nThe lab is left up (--keep): `labgate lab status`, `labgate lab verify`, and `labgate lab down` when done.";
