import { readFileSync } from "node:fs";
import { release } from "node:os";
import { gunzipSync } from "node:zlib";
import { execa } from "execa";
import type { FaultHandle } from "./fault-runner.js";
import type { FaultSpec } from "./fault-spec.js";

/** The link a delay/loss fault acts on: the app's end of its veth pair, inside its namespace. */
export interface NetemTarget {
  netns: string;
  dev: string;
}

/** The exact commands (argument arrays) a delay/loss fault runs, as the gate and the docs show them. */
export function netemCommands(fault: FaultSpec, t: NetemTarget) {
  const inNs = ["ip", "netns", "exec", t.netns, "tc"];
  const impairment = fault.action === "delay" ? ["delay", `${fault.amount}ms`] : ["loss", `${fault.amount}%`];
  return {
    add: [...inNs, "qdisc", "add", "dev", t.dev, "root", "netem", ...impairment],
    del: [...inNs, "qdisc", "del", "dev", t.dev, "root"],
    show: [...inNs, "-j", "qdisc", "show", "dev", t.dev],
  };
}

async function run(argv: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const r = await execa(cmd, args, { reject: false, timeout: 15_000 });
  return { ok: r.exitCode === 0, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** Is a netem qdisc the root qdisc of the device? Read back from the kernel (`tc -j qdisc show`). */
export async function rootNetem(t: NetemTarget): Promise<boolean> {
  const show = netemCommands({ action: "delay", target: "", atMs: 0, forMs: 0, amount: 0, text: "" }, t).show;
  const r = await run(show);
  if (!r.ok) throw new Error(`\`${show.join(" ")}\` failed: ${r.stderr.trim()}`);
  const qdiscs = JSON.parse(r.stdout || "[]") as { kind?: string; root?: boolean }[];
  return qdiscs.some((q) => q.kind === "netem" && q.root === true);
}

/**
 * delay / loss: `tc qdisc add dev <veth> root netem ...` in the app's namespace (its replies leave
 * through that device); undo deletes the root qdisc. Both are done when `tc qdisc show` says so, and
 * undo is a no-op when no netem is there (after a failed apply, or a second undo).
 */
export function netemFault(fault: FaultSpec, t: NetemTarget): FaultHandle {
  if (fault.action !== "delay" && fault.action !== "loss")
    throw new Error(`netemFault cannot ${fault.action}`);
  const cmd = netemCommands(fault, t);
  const removeNetem = async () => {
    if (!(await rootNetem(t))) return;
    const r = await run(cmd.del);
    if (!r.ok) throw new Error(`\`${cmd.del.join(" ")}\` failed: ${r.stderr.trim()}`);
    if (await rootNetem(t))
      throw new Error(`${t.dev} in ${t.netns} still has a netem qdisc after deleting it`);
  };
  return {
    async apply() {
      // A netem left by a run that was killed outright: this namespace is the lab's own, so replace it.
      await removeNetem();
      const r = await run(cmd.add);
      if (!r.ok) {
        const why = /qdisc kind is unknown/i.test(r.stderr)
          ? "this kernel has no netem qdisc (sch_netem)"
          : r.stderr.trim();
        throw new Error(`\`${cmd.add.join(" ")}\` failed: ${why}`);
      }
      if (!(await rootNetem(t)))
        throw new Error(`tc shows no netem on ${t.dev} in ${t.netns} after adding it`);
    },
    undo: removeNetem,
  };
}

/**
 * Why this kernel cannot run netem, when its build config says so (/proc/config.gz: netem not built,
 * or a module with no module tree to load it from); undefined when it can or the config is not exposed.
 * Read before the run, so a delay fault is refused before any traffic rather than at its start.
 */
export function netemUnavailable(
  configGz = "/proc/config.gz",
  modulesDir = `/lib/modules/${release()}`,
): string | undefined {
  let config: string;
  try {
    config = gunzipSync(readFileSync(configGz)).toString("utf8");
  } catch {
    return undefined;
  }
  if (/^CONFIG_NET_SCH_NETEM=y$/m.test(config)) return undefined;
  if (/^CONFIG_NET_SCH_NETEM=m$/m.test(config)) {
    try {
      readFileSync(`${modulesDir}/modules.dep`);
      return undefined;
    } catch {
      return `kernel ${release()} builds netem as a module (sch_netem), but ${modulesDir} is not installed`;
    }
  }
  return `kernel ${release()} is built without netem (CONFIG_NET_SCH_NETEM is not set)`;
}
