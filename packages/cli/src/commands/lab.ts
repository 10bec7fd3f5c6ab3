import { rmdir } from "node:fs/promises";
import { join } from "node:path";
import { parseDuration } from "@labgate/bench/duration";
import { ExitCode, InvalidInputError, isLabgateError } from "@labgate/core";
import {
  describePlan,
  LabStateStore,
  type LabVerifyOptions,
  labDown,
  labDryRun,
  labStatus,
  labUp,
  labVerify,
} from "@labgate/lxd-lab";
import type { Command } from "commander";
import { createOutput } from "../output.js";
import {
  type LabIo,
  type LabTarget,
  type LabTargetFlags,
  makeGate,
  processIo,
  resolveLab,
  withInterrupt,
} from "./lab-context.js";
import { formatPlan, formatRun, formatStatus, formatVerify } from "./lab-format.js";

export interface LabFlags extends LabTargetFlags {
  json?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  step?: string;
  from?: string;
  replace?: string;
  timeout?: string;
  requests?: string;
  tolerance?: string;
}

/** `labgate lab plan|up|status|verify|down`. */
export function registerLabCommands(program: Command): void {
  const lab = program
    .command("lab")
    .description(
      "Build a small test lab step by step: each step is shown, explained and confirmed, then run, verified and recorded. " +
        "The lab is described by lab.json / lab.yaml in the current directory (or --spec); without one, the built-in " +
        "local lab: two app instances on 127.0.0.1:8000/8001 behind HAProxy on 127.0.0.1:8080.",
    );
  const common = (c: Command) =>
    c
      .option(
        "--spec <file>",
        "lab spec (JSON or YAML); default lab.json / lab.yaml here, else the built-in local lab",
      )
      .option(
        "--state-dir <dir>",
        "where the lab's state, logs and pid files live (default .labgate/labs/<name>)",
      )
      .option("--json", "print the result as JSON on stdout");

  common(
    lab
      .command("plan")
      .description("Show every step with why it exists and the exact commands, without running anything."),
  ).action(async (flags: LabFlags) => {
    process.exitCode = await labPlanCommand(flags);
  });
  common(
    lab
      .command("up")
      .description(
        "Build the lab (or resume it): check → confirm → run → verify → record, step by step. It ends with the bench " +
          "step (the spec's SLOs) and, when the spec lists faults:, the failover step (the bench while they happen).",
      ),
  )
    .option("-y, --yes", "answer yes at every confirmation gate")
    .option(
      "--dry-run",
      "show each step and what its check finds now (would run, already done); change nothing",
    )
    .option("--step <id>", "run only this step")
    .option("--from <id>", "start at this step (earlier steps are not touched)")
    .option(
      "--replace <id>",
      "undo this step and apply it again, even if its check says done (repairs drift a plain re-run cannot)",
    )
    .action(async (flags: LabFlags) => {
      process.exitCode = await labUpCommand(flags);
    });
  common(
    lab
      .command("status")
      .description(
        "Each step's recorded and live state, and each resource with its health. A check: exits 0 only when " +
          "every step is done and every resource healthy, 1 otherwise.",
      ),
  )
    .option(
      "--timeout <duration>",
      "how long each probe may take before it counts as failed: 3s, 500ms (a bare number is seconds; default 5s; all probes run at once)",
    )
    .action(async (flags: LabFlags) => {
      process.exitCode = await labStatusCommand(flags);
    });
  common(
    lab
      .command("verify")
      .description(
        "Prove the lab works end to end: requests through the load balancer, round robin over every backend.",
      ),
  )
    .option("--requests <n>", "requests to send through the load balancer")
    .option(
      "--tolerance <fraction>",
      "allowed deviation of each backend's share from an even split, e.g. 0.2",
    )
    .action(async (flags: LabFlags) => {
      process.exitCode = await labVerifyCommand(flags);
    });
  common(
    lab
      .command("down")
      .description("Undo every step in reverse order and remove the lab's state: nothing left behind."),
  )
    .option("-y, --yes", "answer yes at every confirmation gate")
    .option("--dry-run", "show what would be undone, in order, with its undo calls; change nothing")
    .option("--step <id>", "undo only this step")
    .action(async (flags: LabFlags) => {
      process.exitCode = await labDownCommand(flags);
    });
}

export async function labPlanCommand(flags: LabFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const target = await resolveLab(flags, io, false);
  const state = await new LabStateStore(target.stateDir).load();
  const recorded = state?.steps;
  out.result(
    {
      // Values the lab already holds (addresses, hashes) are shown instead of placeholders.
      ...describePlan(target.provider, target.spec, state?.resources ?? []),
      source: target.source,
      stateDir: target.stateDir,
      ...(recorded ? { recorded } : {}),
    },
    formatPlan,
  );
  return ExitCode.OK;
}

export async function labUpCommand(flags: LabFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const target = await resolveLab(flags, io, false);
  if (flags.dryRun) return dryRun(flags, io, target, "up");
  const gate = makeGate(flags.yes, io);
  out.info(
    `Lab "${target.spec.name}" (provider ${target.provider.name}, spec ${target.source}), state in ${target.stateDir}`,
  );
  try {
    const result = await withInterrupt(io, (signal) =>
      labUp({
        ...target,
        gate,
        signal,
        log: (l) => out.info(l),
        step: flags.step,
        from: flags.from,
        replace: flags.replace,
      }),
    );
    out.result(result, formatRun);
  } finally {
    gate.close();
  }
  return ExitCode.OK;
}

export async function labDownCommand(flags: LabFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const target = await resolveLab(flags, io, true);
  if (target.note) out.warn(target.note);
  if (flags.dryRun) return dryRun(flags, io, target, "down");
  const gate = makeGate(flags.yes, io);
  out.info(
    `Tearing down lab "${target.spec.name}" (provider ${target.provider.name}), state in ${target.stateDir}`,
  );
  try {
    const result = await withInterrupt(io, (signal) =>
      labDown({ ...target, gate, signal, log: (l) => out.info(l), step: flags.step }),
    );
    out.result(result, formatRun);
  } finally {
    gate.close();
  }
  return ExitCode.OK;
}

export async function labStatusCommand(flags: LabFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  // A bad --timeout is refused before the lab is looked at.
  const probeTimeoutMs = flags.timeout === undefined ? undefined : parseProbeTimeout(flags.timeout);
  const target = await resolveLab(flags, io, true);
  if (target.note) out.warn(target.note);
  const status = await withInterrupt(io, (signal) =>
    labStatus({ ...target, signal, ...(probeTimeoutMs !== undefined ? { probeTimeoutMs } : {}) }),
  );
  out.result(status, formatStatus);
  return status.healthy ? ExitCode.OK : ExitCode.CHECK_FAILED;
}

export async function labVerifyCommand(flags: LabFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  // Bad flags are refused before the lab is even looked up.
  const verify: LabVerifyOptions = {};
  if (flags.requests !== undefined) verify.requests = parseNumber(flags.requests, "--requests", true);
  if (flags.tolerance !== undefined) verify.tolerance = parseNumber(flags.tolerance, "--tolerance", false);
  const target = await resolveLab(flags, io, true);
  if (target.note) out.warn(target.note);
  const result = await withInterrupt(io, (signal) => labVerify({ ...target, verify, signal }));
  out.result(result, formatVerify);
  if (!result.passed) {
    out.warn(
      `lab "${target.spec.name}" failed verification: ${result.summary}. See \`labgate lab status\`; \`labgate lab up\` repairs what is missing.`,
    );
    return ExitCode.CHECK_FAILED;
  }
  return ExitCode.OK;
}

/**
 * `lab up|down --dry-run`: the runner's dry run (labDryRun). up: every step with what its check finds now;
 * down: what ran here, in the order it would be undone, with its undo calls. Nothing is changed.
 */
async function dryRun(flags: LabFlags, io: LabIo, target: LabTarget, action: "up" | "down"): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  out.info(
    `Dry run of \`lab ${action}\`: nothing is run.${
      action === "down"
        ? " Steps are undone in this (reverse) order; only what ran here is undone."
        : " Each step's check looks at what exists now."
    }`,
  );
  const result = await withInterrupt(io, (signal) =>
    labDryRun(
      {
        ...target,
        signal,
        log: (l) => out.verbose(l),
        step: flags.step,
        from: flags.from,
        replace: flags.replace,
      },
      action,
    ),
  );
  // Read after the run: the dry run wrote nothing, so this is the state it looked at.
  const recorded = (await new LabStateStore(target.stateDir).load())?.steps ?? {};
  out.result({ ...result, source: target.source, stateDir: target.stateDir, recorded }, formatPlan);
  return ExitCode.OK;
}

/** `lab status --timeout`: the bench's duration syntax (3s, 500ms; a bare number is seconds), 0.1 s to 60 s; ms. */
export function parseProbeTimeout(text: string): number {
  let ms: number | undefined;
  try {
    ms = parseDuration(text, "--timeout");
  } catch (error) {
    if (!isLabgateError(error)) throw error;
  }
  if (ms === undefined || ms < 100 || ms > 60_000) {
    throw new InvalidInputError("INVALID_FLAG", `--timeout "${text}" is not a duration from 100ms to 60s.`, {
      hint: "Pass e.g. --timeout 3s (or 3, in seconds) on a slow host.",
    });
  }
  return ms;
}

const MAX_VERIFY_REQUESTS = 10_000;

function parseNumber(text: string, flag: string, whole: boolean): number {
  const value = Number(text);
  // A verification is a check, not a soak test: the same bound as providerOptions.verifyRequests.
  const ok = whole
    ? /^\d+$/.test(text.trim()) && value >= 1 && value <= MAX_VERIFY_REQUESTS
    : /^\d*\.?\d+$/.test(text.trim()) && value >= 0 && value <= 1;
  if (!ok) {
    throw new InvalidInputError(
      "INVALID_FLAG",
      `${flag} "${text}" is not ${whole ? `a whole number from 1 to ${MAX_VERIFY_REQUESTS}` : "a fraction from 0 to 1"}.`,
      {
        hint: whole
          ? `Pass e.g. ${flag} 20.`
          : `Pass e.g. ${flag} 0.2 (each backend within 20% of an even share).`,
      },
    );
  }
  return value;
}

/** `.labgate/labs` and `.labgate` were created by `lab up`; once empty they go too (rmdir refuses non-empty dirs). */
export async function removeEmptyParents(cwd: string): Promise<void> {
  for (const dir of [".labgate/labs", ".labgate"]) await rmdir(join(cwd, dir)).catch(() => {});
}
