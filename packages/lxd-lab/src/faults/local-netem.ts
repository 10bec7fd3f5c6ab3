import { spawnSync } from "node:child_process";
import { execa } from "execa";
import { FaultActionError } from "../errors.js";
import type { FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";
import { type LinkCommand, netemFault, netemShowCommand, parseRootNetem } from "./netem-fault.js";

/** The link a delay/loss fault acts on: the app's end of its veth pair, inside its namespace. */
export interface NetemTarget {
  netns: string;
  dev: string;
}

/** Runs a tc command inside the app's namespace: `ip netns exec <ns> tc ...` (an argument array, no shell). */
export function netnsLinkCommand(netns: string): LinkCommand {
  return async (argv) => {
    const r = await execa("ip", ["netns", "exec", netns, ...argv], { reject: false, timeout: 15_000 });
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  };
}

/**
 * delay / loss on a local app: tc netem on the namespace end of its veth (the app's replies leave
 * through it), with the apply/undo/read-back rules every provider shares (netem-fault.ts).
 */
export function localNetemFault(fault: FaultSpec, t: NetemTarget): FaultHandle {
  return netemFault(fault, `namespace ${t.netns}`, t.dev, netnsLinkCommand(t.netns));
}

/** The root netem on the device as tc reports it, if any (for checks after a run). */
export async function rootNetem(t: NetemTarget): Promise<{ delayMs?: number; lossPct?: number } | undefined> {
  const r = await netnsLinkCommand(t.netns)(netemShowCommand(t.dev));
  if (r.exitCode !== 0) {
    throw new FaultActionError(
      "FAULT_COMMAND_FAILED",
      `tc qdisc show dev ${t.dev} in ${t.netns} failed (exit ${r.exitCode}): ${r.stderr.trim()}`,
      `Run \`ip netns exec ${t.netns} tc qdisc show dev ${t.dev}\` as root to see why; the namespace may be gone (\`labgate lab up\` recreates it).`,
      { netns: t.netns, dev: t.dev, exitCode: r.exitCode, stderr: r.stderr.trim() },
    );
  }
  return parseRootNetem(r.stdout);
}

/**
 * Why this kernel cannot run netem, asked of the kernel itself: `tc qdisc add dev lo root netem` in a
 * throwaway network namespace (`unshare --net`, gone when tc exits; nothing of the lab is touched).
 * Undefined when it can, or when the probe itself could not run (the fault's apply then says why).
 * Synchronous so the fault actuator can refuse a delay before the gate and before any traffic.
 */
export function netemUnavailable(): string | undefined {
  const r = spawnSync(
    "unshare",
    ["--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
    {
      encoding: "utf8",
      timeout: 10_000,
    },
  );
  if (r.status === 0) return undefined;
  if (/qdisc kind is unknown/i.test(r.stderr ?? ""))
    return "this kernel has no netem qdisc (tc: Specified qdisc kind is unknown; CONFIG_NET_SCH_NETEM / module sch_netem)";
  return undefined;
}
