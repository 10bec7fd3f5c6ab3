import { isProcessAlive } from "@labgate/core";
import type { Gate, GateDecision } from "../gate.js";
import { LabStateStore } from "../lab-state.js";

/** A gate answering from a script, remembering what it was asked; a question beyond the script fails. */
export function scriptedGate(answers: GateDecision[]): Gate & { asked: string[] } {
  const asked: string[] = [];
  return {
    interactive: true,
    asked,
    async confirm(req) {
      asked.push(`${req.action}:${req.step.id}`);
      const next = answers.shift();
      if (!next) throw new Error(`unexpected question for ${req.step.id}`);
      return next;
    },
    close() {},
  };
}

/** Never leave a server behind, whatever a test did: kills every live process the lab state in `dir` records. */
export async function killRecordedProcesses(dir: string): Promise<void> {
  const state = await new LabStateStore(dir).load().catch(() => undefined);
  for (const r of state?.resources ?? []) {
    if (r.kind === "process" && isProcessAlive(Number(r.id))) process.kill(Number(r.id), "SIGKILL");
  }
}
