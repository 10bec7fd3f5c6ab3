import { createInterface, type Interface } from "node:readline";
import { wrapText } from "@labgate/core/text";
import { LabInterruptedError, NotConfirmedError } from "../errors.js";
import type { StepDescription } from "./plan-step.js";

export type GateAction = "apply" | "undo";
export type GateDecision = "yes" | "no" | "skip" | "quit";

export interface GateRequest {
  /** Only the description: what the step is, why, the calls it makes (and, for a manual step, what the person does). */
  step: StepDescription;
  action: GateAction;
  /** 1-based position in this run and the number of steps in it, for "step 2/5". */
  index: number;
  total: number;
}

/** Asks before each step. The engine has already shown the step (title, why, commands). */
export interface Gate {
  /** True when a person answers (the engine then mentions the choices), false for --yes. */
  readonly interactive: boolean;
  /** True only for --yes: every step is confirmed without asking (the engine says so under each step). */
  readonly confirmsAll?: boolean;
  confirm(request: GateRequest, signal: AbortSignal): Promise<GateDecision>;
  /** Releases the input stream (the process could otherwise stay alive waiting on it). */
  close(): void;
}

/**
 * `--yes`: every step is confirmed; the engine still prints each one before running it. A manual step
 * (something only the person can do, on a machine labgate cannot reach) is refused: --yes would record as
 * done a command nobody ran. Its undo at `lab down` only shows the reverse and forgets the record, so that
 * passes.
 */
export function autoYesGate(): Gate {
  return {
    interactive: false,
    confirmsAll: true,
    async confirm({ step, action }) {
      if (action === "apply" && step.manual) {
        throw new NotConfirmedError(
          "NOT_CONFIRMED",
          `Step "${step.id}" is yours to do ${step.manual.where}: ${step.manual.commands.join("; ")}. --yes cannot confirm that you ran it.`,
          `Run it there, then run \`labgate lab up\` in a terminal and answer y at this step (steps already done are not asked again); or leave the option that adds it out of the lab spec.`,
          { stepId: step.id, manual: step.manual.commands },
        );
      }
      return "yes";
    },
    close() {},
  };
}

/**
 * No terminal and no --yes: nobody can answer, so refuse at the first step that needs an answer
 * rather than hang on a read that never completes. Steps already done still pass (no question).
 */
export function refusingGate(): Gate {
  return {
    interactive: false,
    async confirm({ step, action }) {
      throw new NotConfirmedError(
        "NOT_CONFIRMED",
        `Step "${step.id}" needs your confirmation before it ${action === "undo" ? "is undone" : "runs"}, but stdin is not a terminal, so there is no one to ask.`,
        "Run the command in a terminal to confirm each step, or pass --yes to confirm them all (review them first with --dry-run).",
        { stepId: step.id },
      );
    },
    close() {},
  };
}

export interface PromptGateOptions {
  input: NodeJS.ReadableStream;
  /** Where questions and explanations go (stderr). */
  output: NodeJS.WritableStream;
}

const CHOICES = "[y]es / [n]o-stop / [s]kip / [e]xplain / [q]uit";
const MANUAL_CHOICES = "[y]es, done / [n]o-stop / [s]kip / [e]xplain / [q]uit";

/** What the person must do by hand, shown before the question (labgate runs nothing for this step). */
function manualText(
  manual: { where: string; commands: string[]; undoCommands: string[] },
  action: GateAction,
): string {
  const commands = action === "undo" ? manual.undoCommands : manual.commands;
  return `  labgate cannot run this step: do it yourself ${manual.where}:\n${commands
    .map((c) => `    $ ${c}\n`)
    .join("")}`;
}

/**
 * Asks a person, one line per answer. The terminal stays in cooked mode (no readline terminal
 * handling) so Ctrl-C reaches the process as SIGINT and aborts the run like anywhere else.
 */
export function promptGate(options: PromptGateOptions): Gate {
  const lines = lineReader(options.input);
  const say = (text: string) => options.output.write(text);
  return {
    interactive: true,
    async confirm(request, signal) {
      const verb = request.action === "undo" ? "Undo" : "Run";
      const manual = request.step.manual;
      if (manual) say(manualText(manual, request.action));
      for (;;) {
        say(
          manual
            ? `Have you ${request.action === "undo" ? "reversed" : "run"} it ${manual.where} (step ${request.index}/${request.total} "${request.step.id}")? ${MANUAL_CHOICES}: `
            : `${verb} step ${request.index}/${request.total} "${request.step.id}"? ${CHOICES}: `,
        );
        const answer = await lines.next(signal);
        if (answer === undefined) {
          say("\n");
          throw new NotConfirmedError(
            "NOT_CONFIRMED",
            `The input closed before step "${request.step.id}" was confirmed.`,
            "Run the command again in a terminal, or pass --yes to confirm every step.",
            { stepId: request.step.id },
          );
        }
        const decision = parseAnswer(answer);
        if (decision === "explain") {
          say(explainStep(request));
          continue;
        }
        if (decision) return decision;
        say(`  Please answer y, n, s, e or q (got "${answer.trim()}").\n`);
      }
    },
    close: () => lines.close(),
  };
}

export function parseAnswer(answer: string): GateDecision | "explain" | undefined {
  switch (answer.trim().toLowerCase()) {
    case "y":
    case "yes":
      return "yes";
    case "n":
    case "no":
    case "no-stop":
      return "no";
    case "s":
    case "skip":
      return "skip";
    case "e":
    case "explain":
    case "?":
      return "explain";
    case "q":
    case "quit":
      return "quit";
    default:
      return undefined;
  }
}

/** The long form shown for [e]xplain: why, every command, what to try if it fails, what each answer does. */
export function explainStep({ step, action }: GateRequest): string {
  const out: string[] = [
    "",
    `  ${step.title} (${step.id})`,
    "",
    ...wrapText(step.why, 76).map((l) => `  ${l}`),
    "",
  ];
  if (step.manual) {
    out.push(`  labgate cannot run this step: you do, ${step.manual.where}. Exactly:`);
    for (const command of action === "undo" ? step.manual.undoCommands : step.manual.commands)
      out.push(`    $ ${command}`);
    out.push(
      "",
      "  Answer y once you have done it: labgate records your confirmation (--yes never gives it).",
    );
  } else if (action === "undo") {
    out.push("  Undo removes what this step created (and only that), then forgets it in the lab state.");
  } else {
    out.push("  Commands / API calls it makes, exactly:");
    for (const call of step.calls) out.push(`    $ ${call.display}`);
    out.push("", "  Then it verifies the result before recording the step as done.");
  }
  if (step.diagnostics?.length) {
    out.push("", "  If it fails, try:");
    for (const d of step.diagnostics) out.push(`    - ${d}`);
  }
  out.push(
    "",
    "  y: run it   n: do not run it and stop here (progress so far is kept)",
    "  s: leave this step out and go on   q: quit now   e: this text",
    "",
  );
  return `${out.join("\n")}\n`;
}

interface LineReader {
  next(signal: AbortSignal): Promise<string | undefined>;
  close(): void;
}

/** Queues lines as they arrive, so answers typed ahead (or piped in tests) are not lost between questions. */
function lineReader(input: NodeJS.ReadableStream): LineReader {
  let rl: Interface | undefined;
  const queue: string[] = [];
  let ended = false;
  let waiter: (() => void) | undefined;
  const start = () => {
    if (rl) return;
    rl = createInterface({ input, terminal: false });
    rl.on("line", (line) => {
      queue.push(line);
      waiter?.();
    });
    rl.on("close", () => {
      ended = true;
      waiter?.();
    });
  };
  return {
    async next(signal) {
      start();
      for (;;) {
        if (signal.aborted) throw interrupted();
        const line = queue.shift();
        if (line !== undefined) return line;
        if (ended) return undefined;
        await new Promise<void>((resolve) => {
          const onAbort = () => resolve();
          signal.addEventListener("abort", onAbort, { once: true });
          waiter = () => {
            signal.removeEventListener("abort", onAbort);
            waiter = undefined;
            resolve();
          };
        });
      }
    },
    close() {
      rl?.close();
      // readline leaves a TTY/pipe stdin flowing; pausing lets the process exit.
      (input as NodeJS.ReadableStream & { pause?: () => void }).pause?.();
    },
  };
}

function interrupted(): LabInterruptedError {
  return new LabInterruptedError(
    "Interrupted at the confirmation prompt; nothing more was run.",
    "Run the command again to continue where it stopped.",
  );
}
