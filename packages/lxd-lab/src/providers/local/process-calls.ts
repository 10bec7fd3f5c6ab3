import { displayQuote } from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";

/** The placeholder plans show for the lab's state dir; the runner fills in the real one where it prints it. */
export const STATE_PLACEHOLDER = "<state>";

/** One argv word as shown: a path under the lab's state dir reads `<state>/...`, anything else as typed. */
function showWord(word: string, stateDir: string): string {
  const under = `${stateDir}/`;
  return stateDir !== "" && word.startsWith(under)
    ? `${STATE_PLACEHOLDER}/${displayQuote(word.slice(under.length))}`
    : displayQuote(word);
}

/** The argv a step spawns, as a person would type it (`stateDir` "": no path is abbreviated). */
export function displayArgv(argv: readonly string[], stateDir: string): string {
  return argv.map((w) => showWord(w, stateDir)).join(" ");
}

/**
 * How a lab process is started, as the plan shows it: the very argv startManagedProcess spawns (detached,
 * its output appended to its log), so the plan cannot drift from what runs.
 */
export function startCall(argv: readonly string[], stateDir: string, name: string, note?: string): StepCall {
  const log = `${STATE_PLACEHOLDER}/logs/${name}.log`;
  return {
    display: `${displayArgv(argv, stateDir)} >> ${log} 2>&1 &${note ? `   # ${note}` : ""}`,
    kind: "command",
  };
}

export const command = (display: string): StepCall => ({ display, kind: "command" });
export const probe = (display: string): StepCall => ({ display, kind: "probe" });
export const file = (display: string): StepCall => ({ display, kind: "file" });
