import { DeployNotConfirmedError } from "@labgate/core";
import type { Gate, GateAction } from "@labgate/lxd-lab";
import { askYes } from "./ask-yes.js";

export interface DeployGateIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/**
 * deploy's gate, as before the runner: one question for the whole deployment (the plan was printed
 * above it), asked at the first step that has something to do. --yes goes on; a terminal is asked; no
 * terminal and no --yes is refused (DEPLOY_NOT_CONFIRMED, exit 7) before any step changes anything.
 */
export function deployGate(
  question: (action: GateAction) => string,
  yes: boolean | undefined,
  io: DeployGateIo,
): Gate {
  let answered: Promise<void> | undefined;
  return {
    interactive: !yes && Boolean(io.stdin.isTTY),
    confirmsAll: Boolean(yes),
    async confirm({ action }) {
      answered ??= confirmOnce(question(action), yes, io);
      await answered;
      return "yes";
    },
    close() {},
  };
}

async function confirmOnce(question: string, yes: boolean | undefined, io: DeployGateIo): Promise<void> {
  if (yes) return;
  if (!io.stdin.isTTY) {
    throw new DeployNotConfirmedError(
      `${question} needs a yes, but stdin is not a terminal, so there is no one to ask.`,
      { hint: "Run it in a terminal, or pass --yes after reviewing `labgate deploy plan` (or --dry-run)." },
    );
  }
  if (!(await askYes(question, io))) {
    throw new DeployNotConfirmedError("Not confirmed; nothing was changed.", {
      hint: "Answer y to go ahead, or pass --yes.",
    });
  }
}
