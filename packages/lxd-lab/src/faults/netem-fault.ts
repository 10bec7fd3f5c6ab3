import { FaultActionError, LabInternalError } from "../errors.js";
import type { FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";

/** Runs one argument array where the backend's link lives (LXD exec in its container, SSH to its VM). */
export type LinkCommand = (argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/** `tc qdisc add dev <dev> root netem delay <N>ms` or `... loss <N>%`: `add`, so another root qdisc is never replaced. */
export function netemAddCommand(fault: FaultSpec, device: string): string[] {
  const what = fault.action === "delay" ? ["delay", `${fault.amount}ms`] : ["loss", `${fault.amount}%`];
  return ["tc", "qdisc", "add", "dev", device, "root", "netem", ...what];
}

export function netemShowCommand(device: string): string[] {
  return ["tc", "qdisc", "show", "dev", device, "root"];
}

export function netemDeleteCommand(device: string): string[] {
  return ["tc", "qdisc", "del", "dev", device, "root"];
}

/** The root netem qdisc in `tc qdisc show` output, with its delay (ms) and loss (%), if there is one. */
export function parseRootNetem(show: string): { delayMs?: number; lossPct?: number } | undefined {
  const line = show.split("\n").find((l) => /^qdisc netem \S+ root\b/.test(l));
  if (!line) return undefined;
  const delay = /\bdelay ([\d.]+)(us|ms|s)\b/.exec(line);
  const loss = /\bloss ([\d.]+)%/.exec(line);
  const scale = { us: 0.001, ms: 1, s: 1000 } as const;
  return {
    ...(delay ? { delayMs: Number(delay[1]) * scale[delay[2] as keyof typeof scale] } : {}),
    ...(loss ? { lossPct: Number(loss[1]) } : {}),
  };
}

/**
 * delay / loss with tc netem on the backend's own link. Refuses a link that already has a netem root
 * qdisc (not ours to replace or delete). Apply is done when `tc qdisc show` reports the netem with the
 * asked amount; undo deletes the root qdisc only when the apply got as far as adding it and a netem is
 * still there, and is done when `tc qdisc show` has no netem left (so it can run any number of times).
 */
export function netemFault(fault: FaultSpec, where: string, device: string, run: LinkCommand): FaultHandle {
  if (fault.action !== "delay" && fault.action !== "loss")
    throw new LabInternalError(`netemFault was given '${fault.text}': it only does delay and loss.`);
  let added = false;
  const facts = { fault: fault.text, where, device };
  const tcFailed = (what: string, r: { exitCode: number; stderr: string }, extra = "") =>
    new FaultActionError(
      "FAULT_COMMAND_FAILED",
      `${what} failed in ${where} (exit ${r.exitCode}): ${r.stderr.trim()}${extra}`,
      `Run the same tc command in ${where} by hand to see why; tc needs root (CAP_NET_ADMIN) there.`,
      { ...facts, exitCode: r.exitCode, stderr: r.stderr.trim() },
    );
  const show = async () => {
    const r = await run(netemShowCommand(device));
    if (r.exitCode !== 0) throw tcFailed(`tc qdisc show dev ${device}`, r);
    return parseRootNetem(r.stdout);
  };
  return {
    async apply() {
      if (await show()) {
        throw new FaultActionError(
          "FAULT_NOT_OURS",
          `${device} in ${where} already has a netem qdisc that labgate did not add`,
          `Remove it yourself if it is not needed (\`tc qdisc del dev ${device} root\` in ${where}), or pick another fault; labgate does not replace it.`,
          facts,
        );
      }
      added = true;
      const r = await run(netemAddCommand(fault, device));
      if (r.exitCode !== 0) {
        const unknown = /qdisc kind is unknown/i.test(r.stderr);
        throw tcFailed(
          `tc qdisc add dev ${device} root netem`,
          r,
          unknown ? " (the kernel has no netem: load sch_netem on the host)" : "",
        );
      }
      const live = await show();
      const got = fault.action === "delay" ? live?.delayMs : live?.lossPct;
      // tc prints the kernel's value: 200ms stays 200ms, 0.01% may come back rounded.
      if (got === undefined || Math.abs(got - (fault.amount ?? 0)) > (fault.amount ?? 0) * 0.01 + 0.001) {
        throw new FaultActionError(
          "FAULT_NOT_IN_EFFECT",
          `tc reports ${JSON.stringify(live)} on ${device} in ${where} after adding ${fault.text}`,
          `Check the link by hand (\`tc qdisc show dev ${device}\` in ${where}); another tool may be changing its qdiscs.`,
          { ...facts, live },
        );
      }
    },
    async undo() {
      if (!added || !(await show())) return;
      const r = await run(netemDeleteCommand(device));
      if (r.exitCode !== 0 && (await show())) throw tcFailed(`tc qdisc del dev ${device} root`, r);
      if (await show()) {
        throw new FaultActionError(
          "FAULT_NOT_IN_EFFECT",
          `${device} in ${where} still has a netem qdisc after tc qdisc del`,
          `Remove it by hand (\`tc qdisc del dev ${device} root\` in ${where}); another tool may be adding it back.`,
          facts,
        );
      }
    },
  };
}
