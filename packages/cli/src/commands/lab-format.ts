import { wrapText } from "@labgate/core/text";
import type {
  LabDryRunStep,
  LabPlan,
  LabRunResult,
  LabStatus,
  LabVerifyResult,
  PlannedStep,
  StepRecord,
} from "@labgate/lxd-lab";

/** A step as `lab plan` shows it; a dry run adds what the runner found (and, for down, the undo calls). */
type ShownStep = PlannedStep & Partial<Pick<LabDryRunStep, "outcome" | "detail" | "undoCommands">>;

const WOULD: Record<string, string> = {
  "would-run": "→ would run",
  "already-done": "= already done",
  unknown: "? unknown",
  "would-undo": "→ would be undone",
  "nothing-to-undo": "= nothing to undo",
};

/** `lab plan` and `lab up|down --dry-run`: one view of the steps, the dry run with each step's outcome. */
export function formatPlan(
  plan: Omit<LabPlan, "steps"> & {
    steps: ShownStep[];
    source: string;
    stateDir: string;
    recorded?: Record<string, StepRecord>;
    action?: "up" | "down";
  },
): string {
  const undo = plan.action === "down";
  const out = [
    `Lab "${plan.lab}" — provider ${plan.provider}, spec ${plan.source}, state ${plan.stateDir}`,
    plan.steps.length === 0
      ? "nothing to undo: no step ran here"
      : `${plan.steps.length} steps${undo ? ", in the order they would be undone" : ""}:`,
    "",
  ];
  for (const s of plan.steps) {
    const rec = plan.recorded?.[s.id];
    out.push(
      `${String(s.index).padStart(2)}. ${s.id} — ${s.title}${rec ? `  [recorded: ${rec.status}]` : ""}`,
    );
    if (s.outcome) out.push(`    ${WOULD[s.outcome] ?? s.outcome}${s.detail ? `: ${s.detail}` : ""}`);
    for (const l of wrapText(s.why, 92)) out.push(`    ${l}`);
    if (undo) {
      if (s.outcome === "would-undo" && s.undoCommands?.length) out.push("    undo commands:");
      if (s.outcome === "would-undo") for (const c of s.undoCommands ?? []) out.push(`      $ ${c}`);
    } else for (const c of s.commands) out.push(`      $ ${c}`);
    out.push("");
  }
  return out.join("\n");
}

const MARK: Record<string, string> = {
  applied: "✓ ran",
  replaced: "✓ replaced",
  "already-done": "= already done",
  skipped: "- skipped",
  undone: "✓ undone",
  "nothing-to-undo": "= nothing to undo",
};

export function formatRun(result: LabRunResult): string {
  const out = result.steps.map(
    (s) => `  ${(MARK[s.outcome] ?? s.outcome).padEnd(18)} ${s.id}${s.detail ? `  (${s.detail})` : ""}`,
  );
  out.push(result.message);
  return out.join("\n");
}

export function formatStatus(status: LabStatus): string {
  const out = [
    `Lab "${status.lab}" — provider ${status.provider}, state ${status.stateDir}${status.exists ? `, updated ${status.updatedAt}` : " (no state: not built here)"}`,
    "",
    "Steps:",
  ];
  for (const s of status.steps) {
    const live =
      "error" in s.live
        ? `check failed: ${s.live.error}`
        : s.live.done
          ? `live: done${s.live.detail ? ` — ${s.live.detail}` : ""}`
          : `live: not done${s.live.detail ? ` — ${s.live.detail}` : ""}`;
    out.push(
      `  ${s.id.padEnd(22)} ${`recorded: ${s.recorded}`.padEnd(24)} ${live}${s.error ? `  (last error: ${s.error})` : ""}`,
    );
  }
  out.push("", "Resources:");
  if (!status.resources.length) out.push("  (none recorded)");
  for (const r of status.resources) {
    out.push(
      `  ${r.health.padEnd(9)} ${r.kind} ${r.id}  (step ${r.stepId})${r.detail ? ` — ${r.detail}` : ""}`,
    );
  }
  out.push(
    "",
    status.healthy
      ? "Overall: healthy (exit 0)"
      : status.exists
        ? "Overall: NOT healthy (exit 1; see above: `labgate lab up` repairs missing steps, `labgate lab up --replace STEP` rebuilds a drifted one)"
        : "Overall: NOT healthy (exit 1): the lab is not built here",
  );
  return out.join("\n");
}

export function formatVerify(result: LabVerifyResult): string {
  return [...(result.lines ?? []), `${result.passed ? "PASS" : "FAIL"}: ${result.summary}`].join("\n");
}
