import { ExitCode, isLabgateError, redact } from "@labgate/core";
import { StepFailedError } from "../errors.js";
import type { GateAction } from "./gate.js";

/** What a failure names: a legacy Step, or a description with its calls' display lines as `commands`. */
export interface FailingStep {
  id: string;
  title: string;
  commands: string[];
  diagnostics?: string[] | undefined;
}

const OUTPUT_TAIL_LINES = 30;
const VERB = { apply: "running", undo: "undoing", check: "checking whether it is already done" } as const;

/** What a failed step got: the error's message and any output it captured (execa stdout/stderr, details.output). */
export function describeFailure(error: unknown): { message: string; output?: string } {
  const message = error instanceof Error ? error.message : String(error);
  const parts: string[] = [];
  if (error && typeof error === "object") {
    const e = error as Record<string, unknown>;
    const details = (e["details"] ?? {}) as Record<string, unknown>;
    for (const value of [details["output"], e["stderr"], e["stdout"]]) {
      if (typeof value === "string" && value.trim() && !message.includes(value.trim()))
        parts.push(value.trim());
    }
  }
  const output = parts.join("\n");
  if (!output) return { message: redact(message) };
  const lines = output.split("\n");
  const tail = lines.length > OUTPUT_TAIL_LINES ? ["...", ...lines.slice(-OUTPUT_TAIL_LINES)] : lines;
  return { message: redact(message), output: redact(tail.join("\n")) };
}

/**
 * Wraps whatever a step threw into the failure the user sees: which step, what it ran, what it got,
 * what to try next. Keeps the cause's exit code (a taken port stays PRECONDITION, exit 4) and its
 * own hint (it knows the specific fix). With `stateDir`, the plan's `<state>` placeholders in the
 * commands and diagnostics become the real path, so they can be pasted as they are.
 */
export function stepFailure(
  step: FailingStep,
  action: GateAction | "check",
  error: unknown,
  stateDir?: string,
  /** What to do next, when the engine knows better than "run it again" (see run-lab's nextAfterFailure). */
  next?: string,
): StepFailedError {
  const { message, output } = describeFailure(error);
  const fill = (text: string) => (stateDir === undefined ? text : fillStateDir(text, stateDir));
  const diagnostics = (step.diagnostics ?? []).map(fill);
  const commands = action === "apply" ? step.commands.map(fill) : [];
  const resume = action === "undo" ? "labgate lab down" : "labgate lab up";
  const exitCode = isLabgateError(error) ? error.exitCode : ExitCode.EXTERNAL;
  const causeHint = isLabgateError(error) && error.hint ? `${redact(error.hint)} ` : "";
  return new StepFailedError(
    step.id,
    `Step "${step.id}" (${step.title}) failed while ${VERB[action]}: ${message}`,
    {
      exitCode,
      cause: error,
      hint:
        causeHint +
        (diagnostics.length ? `Next diagnostics: ${diagnostics.map((d) => `\`${d}\``).join(", ")}. ` : "") +
        (next ?? `Then run \`${resume}\` again: it resumes at this step.`),
      details: {
        stepId: step.id,
        action,
        commands,
        error: message,
        ...(output ? { output } : {}),
        diagnostics,
      },
    },
  );
}

/** `<state>` and `<state dir>` (how plans name the lab's state directory) replaced by the real one. */
export function fillStateDir(text: string, stateDir: string): string {
  return text.replace(/<state(?: dir)?>/g, stateDir);
}

/** The failure block printed on stderr. */
export function formatStepFailure(failure: StepFailedError): string {
  const d = (failure.details ?? {}) as {
    action?: string;
    commands?: string[];
    error?: string;
    output?: string;
    diagnostics?: string[];
  };
  const out = [
    `✗ step "${failure.stepId}" failed${d.action && d.action !== "apply" ? ` while ${VERB[d.action as keyof typeof VERB] ?? d.action}` : ""}`,
  ];
  if (d.commands?.length) {
    out.push("  it ran:");
    for (const c of d.commands) out.push(`    $ ${c}`);
  }
  out.push("  it got:", ...(d.error ?? failure.message).split("\n").map((l) => `    ${l}`));
  if (d.output) out.push("  output:", ...d.output.split("\n").map((l) => `    | ${l}`));
  if (d.diagnostics?.length) {
    out.push("  next diagnostics to try:");
    for (const x of d.diagnostics) out.push(`    $ ${x}`);
  }
  return out.join("\n");
}
