import type { RunOptions } from "@labgate/core";
import type { StepCall } from "../engine/plan-step.js";
import { show } from "./show.js";
import type { HostCommandRunner } from "./types.js";

/**
 * A command a host-preparation step runs on the host, as data: the argv the runner gets and the line
 * the plan shows are one value, so what the gate shows is what runs.
 */
export interface HostCall {
  call: StepCall;
  command: string;
  args: readonly string[];
  /** What the command needs to mean the same (sudo, env); per-run options (signal, timeouts) come at run time. */
  options: Pick<RunOptions, "sudo" | "sudoUser" | "env">;
}

export function hostCall(
  command: string,
  args: readonly string[],
  options: HostCall["options"] = {},
  extra: { kind?: "command" | "probe"; note?: string } = {},
): HostCall {
  const line = show(command, args, options);
  return {
    call: {
      display: extra.note ? `${line}   # ${extra.note}` : line,
      kind: extra.kind ?? "command",
      where: "host",
    },
    command,
    args,
    options,
  };
}

/** Runs the call on the host with this run's options (signal, timeout, stdin). */
export function runHostCall(runner: HostCommandRunner, c: HostCall, options: RunOptions = {}) {
  return runner.run(c.command, c.args, { ...c.options, ...options });
}
