import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseDuration } from "@labgate/bench/duration";
import {
  checkDeployment,
  createAdapter,
  DEFAULT_DEPLOY_STATE_DIR,
  type DeploySpec,
  DeploySpecError,
  deployStatePath,
  ExitCode,
  type Finding,
  formatFinding,
  hasErrors,
  InvalidInputError,
  IpPool,
  LabgateError,
  loadDeploySpec,
  localLoopbackPoolConfig,
  makeDeployStateDir,
  ON_PREM_PLATFORMS,
  PLATFORMS,
  type PlatformName,
  readDeployRecord,
  resolveDeployNetwork,
  resolveIpPoolConfigPath,
  shellQuote,
  usesDhcp,
  withFileLock,
} from "@labgate/core";
import { isLabgateError } from "@labgate/core/errors";
import { emptyDeployReport, planDeploymentSteps } from "@labgate/lxd-lab";
import type { Command } from "commander";
import { createOutput, type Output, type OutputStreams } from "../output.js";
import { formatPlan, formatSteps } from "./deploy-format.js";
import { loadPlatformAdapters } from "./deploy-platforms.js";
import { applyDeployment, type DeployRun, destroyDeployment } from "./deploy-run.js";

export { formatPlan };

export interface DeployFlags {
  platform?: string;
  json?: boolean;
  yes?: boolean;
  ipPools?: string;
  ipState?: string;
  stateDir?: string;
  timeout?: string;
  /** --spec FILE, the same flag `lab` takes; the positional spec still works. */
  spec?: string;
  /** apply/destroy: show the steps and what their checks find; change nothing. */
  dryRun?: boolean;
  /** apply/destroy: run (or undo) just this step. */
  step?: string;
}

export interface DeployIo extends OutputStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborts apply/destroy (Ctrl-C); when absent, the command listens for SIGINT itself. */
  signal?: AbortSignal;
}

type Action = "check" | "plan" | "apply" | "destroy";

/** `labgate deploy check|plan|apply|destroy spec.json`. */
export function registerDeployCommands(program: Command, io?: DeployIo): void {
  const deploy = program
    .command("deploy")
    .description(
      "Deploy one VM from a JSON spec onto proxmox, esxi, aws, azure, opennebula, lxd or local (a process on loopback).\n" +
        "The platform rules run first (static addresses on on-prem networks, SATA for Windows, image conversion for ESXi);\n" +
        "every API call is shown before it is made and apply/destroy ask before acting.",
    );
  const add = (action: Action, description: string) => {
    const cmd = deploy
      .command(`${action} [spec]`)
      .description(description)
      .option("--spec <file>", "the deploy spec (JSON); or give it as the argument")
      .option(
        "-p, --platform <name>",
        `target platform (${PLATFORMS.join(", ")}); default: the spec's "platform"`,
      )
      .option("--ip-pools <file>", "IP pool config (default: $LABGATE_IP_POOLS or config/ip_pools.json)")
      .option("--ip-state <file>", "IP ledger (default: beside the pool config)")
      .option("--json", "machine-readable output on stdout");
    if (action === "apply" || action === "destroy")
      cmd
        .option("-y, --yes", "do not ask; the plan is still printed")
        .option(
          "--dry-run",
          "show the steps and what their checks find now; change nothing (with --json: the steps)",
        )
        .option(
          "--step <id>",
          `${action === "apply" ? "run" : "undo"} just this step (reserve-address, create-node, wait-running)`,
        );
    if (action !== "check") {
      cmd.option(
        "--state-dir <dir>",
        "where deploy records (and the local platform's loopback IP ledger) are kept",
        DEFAULT_DEPLOY_STATE_DIR,
      );
    }
    if (action === "apply")
      cmd.option(
        "--timeout <duration>",
        "how long to wait for the VM to run: 90s, 15m, 1h30m (a bare number is seconds; at most 24h)",
        "10m",
      );
    cmd.action(async (spec: string | undefined, flags: DeployFlags) => {
      process.exitCode = await deployCommand(
        action,
        specFrom(spec, flags),
        flags,
        io ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env },
      );
    });
  };
  add(
    "check",
    "Check a spec against the platform rules; exits 2 listing every finding when it cannot be deployed.",
  );
  add(
    "plan",
    "Show the steps apply runs, each with its API calls and commands and why (and the address the pool would give); checks and changes nothing.",
  );
  add(
    "apply",
    "Deploy in steps (reserve-address, create-node, wait-running): print the plan, ask, run; an interrupted apply resumes.",
  );
  add("destroy", "Undo apply's steps in reverse: remove the VM and release its address.");
}

export async function deployCommand(
  action: Action,
  specPath: string,
  flags: DeployFlags,
  io: DeployIo,
): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  if (action === "apply") timeoutMs(flags); // a bad --timeout is refused before anything happens
  const parsed = await loadDeploySpec(specPath);
  if (!parsed.spec) return reportFindings(out, parsed.findings, specPath, undefined);
  const spec = parsed.spec;
  const platform = choosePlatform(spec, flags, out);
  await loadPlatformAdapters(platform);
  const adapter = createAdapter(platform, { spec, env: io.env });
  const findings = checkDeployment(spec, adapter);
  if (hasErrors(findings)) return reportFindings(out, findings, specPath, platform);
  const stateDir = flags.stateDir ?? DEFAULT_DEPLOY_STATE_DIR;
  const pool = ipPoolFor(spec, platform, flags, io.env, stateDir);
  out.verbose(
    pool
      ? `IP pool: ${pool.configPath ?? "built in (loopback)"}; ledger: ${pool.statePath}`
      : "IP pool: none needed (DHCP, a cloud platform, or a full address with no pool file)",
  );
  if (action === "check") {
    // The address rules apply enforces (gateway, network address, held in the ledger) run here too.
    findings.push(...(await addressFindings(spec, platform, pool)));
    return reportFindings(out, findings, specPath, platform);
  }
  const statePath = deployStatePath(stateDir, platform, spec.name);
  // What plan shows and apply/destroy run against: the same node, pool, state file and timeout.
  const target = { adapter, spec, platform, pool, statePath, timeoutMs: timeoutMs(flags) };
  if (action === "plan") {
    for (const f of findings) if (f.severity !== "error") out.info(formatFinding(f));
    // The steps `deploy apply` runs, from the same code (their calls are the adapter's plan); nothing is checked.
    const { plan, steps } = await planDeploymentSteps(target);
    const descriptions = steps.map((s) => s.description);
    const recorded = await readDeployRecord(statePath);
    if (recorded?.status === "creating")
      out.warn(
        `An earlier apply of ${spec.name} was interrupted (${statePath}); apply will first look on ${platform} for what it left${recorded.ref.id ? ` (node ${recorded.ref.id})` : ""} and remove it.`,
      );
    out.result(
      {
        platform,
        findings,
        plan,
        steps: descriptions,
        ...(recorded?.status === "creating" ? { interrupted: recorded.ref } : {}),
      },
      () => formatSteps(descriptions, "plan", plan),
    );
    return ExitCode.OK;
  }
  if (action === "apply") for (const f of findings) if (f.severity !== "error") out.info(formatFinding(f));
  const run: DeployRun = {
    out,
    ctx: {
      ...target,
      log: (line) => out.info(line),
      warn: (line) => out.warn(line),
      report: emptyDeployReport(),
    },
    io,
    yes: flags.yes,
    dryRun: flags.dryRun,
    step: flags.step,
    command: (verb) =>
      [
        "labgate deploy",
        verb,
        shellQuote(specPath),
        ...(flags.platform ? ["--platform", platform] : []),
        ...(flags.ipPools ? ["--ip-pools", shellQuote(flags.ipPools)] : []),
        ...(flags.ipState ? ["--ip-state", shellQuote(flags.ipState)] : []),
        ...(flags.stateDir && flags.stateDir !== DEFAULT_DEPLOY_STATE_DIR
          ? ["--state-dir", shellQuote(flags.stateDir)]
          : []),
      ].join(" "),
  };
  if (flags.dryRun) return action === "apply" ? applyDeployment(run) : destroyDeployment(run);
  // One apply or destroy per node at a time: a second one would see no record yet and create a twin.
  await makeDeployStateDir(dirname(statePath));
  return withFileLock(
    `${statePath}.apply`,
    () => (action === "apply" ? applyDeployment(run) : destroyDeployment(run)),
    { timeoutMs: 2_000 },
  );
}

/** The pool's verdict on the spec's address, from the same call apply makes, as findings. */
async function addressFindings(
  spec: DeploySpec,
  platform: PlatformName,
  pool: IpPool | undefined,
): Promise<Finding[]> {
  try {
    await resolveDeployNetwork(spec, platform, pool, { dryRun: true });
    return [];
  } catch (error) {
    // Bad input and an exhausted pool are the spec's problem; a broken ledger or config stays an error of its own.
    if (
      !(error instanceof LabgateError) ||
      (error.exitCode !== ExitCode.INVALID_INPUT && error.exitCode !== ExitCode.EXHAUSTED)
    )
      throw error;
    return [
      {
        code: error.code,
        severity: "error",
        field: "network.ip",
        message: error.message,
        fix: error.hint ?? "Choose another network.ip, or leave it out to take one from the pool.",
      },
    ];
  }
}

/** The spec as `lab` takes it (--spec FILE) or as deploy always did (the argument); exactly one. */
function specFrom(positional: string | undefined, flags: DeployFlags): string {
  if (positional !== undefined && flags.spec !== undefined && positional !== flags.spec) {
    throw new InvalidInputError(
      "DEPLOY_SPEC_TWICE",
      `Two specs: ${JSON.stringify(positional)} as the argument and ${JSON.stringify(flags.spec)} with --spec.`,
      { hint: "Give the spec once: `labgate deploy plan --spec vm.json` or `labgate deploy plan vm.json`." },
    );
  }
  const spec = positional ?? flags.spec;
  if (spec === undefined || spec === "") {
    throw new InvalidInputError("DEPLOY_SPEC_MISSING", "No deploy spec given.", {
      hint: "Pass the spec file: `labgate deploy plan --spec vm.json` (or as the argument).",
    });
  }
  return spec;
}

const MAX_TIMEOUT_SECONDS = 86_400;

function timeoutMs(flags: DeployFlags): number {
  return parseDeployTimeout(flags.timeout ?? "10m");
}

/** --timeout in the bench's duration syntax (90s, 15m, 1h30m; a bare number is seconds), bounded to a day; ms. */
export function parseDeployTimeout(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text, "--timeout");
  } catch (error) {
    if (!isLabgateError(error)) throw error;
    throw new InvalidInputError("DEPLOY_TIMEOUT_INVALID", error.message, {
      hint: error.hint ?? "E.g. --timeout 15m to wait up to 15 minutes for the VM to run.",
      cause: error,
    });
  }
  // A day is far beyond any VM boot, and far below a timer's 2^31-1 ms, past which it would fire at once.
  if (!(ms > 0) || ms > MAX_TIMEOUT_SECONDS * 1000) {
    throw new InvalidInputError(
      "DEPLOY_TIMEOUT_INVALID",
      `--timeout "${text}" must be above 0 and at most ${MAX_TIMEOUT_SECONDS} seconds (24h).`,
      { hint: "E.g. --timeout 15m (or 900, in seconds) to wait up to 15 minutes for the VM to run." },
    );
  }
  return ms;
}

function choosePlatform(spec: DeploySpec, flags: DeployFlags, out: Output): PlatformName {
  const name = flags.platform ?? spec.platform;
  if (!name) {
    throw new DeploySpecError(
      "DEPLOY_PLATFORM_REQUIRED",
      'No platform: the spec has no "platform" and --platform was not given.',
      {
        hint: `Pass --platform ${PLATFORMS.join("|")}.`,
      },
    );
  }
  if (!(PLATFORMS as readonly string[]).includes(name)) {
    throw new DeploySpecError("DEPLOY_PLATFORM_UNKNOWN", `Unknown platform "${name}".`, {
      hint: `Use one of ${PLATFORMS.join(", ")}.`,
    });
  }
  if (flags.platform && spec.platform && flags.platform !== spec.platform)
    out.warn(`--platform ${flags.platform} overrides the spec's platform ${spec.platform}.`);
  return name as PlatformName;
}

/** The pool is needed on on-prem platforms with static addresses; a spec with a full address works without a pool file. */
function ipPoolFor(
  spec: DeploySpec,
  platform: PlatformName,
  flags: DeployFlags,
  env: NodeJS.ProcessEnv,
  stateDir: string,
): IpPool | undefined {
  if (platform === "local") {
    // Local nodes live on loopback: their pool is built in, its ledger kept with the deploy records.
    return new IpPool({
      config: localLoopbackPoolConfig(spec.network.cidr),
      statePath: flags.ipState ?? join(stateDir, "local-ip-pool.state.json"),
    });
  }
  if (!ON_PREM_PLATFORMS.includes(platform) || usesDhcp(spec, platform)) return undefined;
  const configPath = resolveIpPoolConfigPath(flags.ipPools, env);
  if (spec.network.ip && !existsSync(configPath)) return undefined;
  return new IpPool({ configPath, ...(flags.ipState ? { statePath: flags.ipState } : {}) });
}

function reportFindings(
  out: Output,
  findings: Finding[],
  specPath: string,
  platform: PlatformName | undefined,
): number {
  const bad = hasErrors(findings);
  out.result({ spec: specPath, platform: platform ?? null, ok: !bad, findings }, () =>
    findings.length === 0 ? `${specPath}: no findings` : findings.map(formatFinding).join("\n"),
  );
  const errors = findings.filter((f) => f.severity === "error").length;
  if (bad)
    out.info(
      `${specPath}: ${errors} error${errors === 1 ? "" : "s"}; nothing was deployed. Fix them and run \`labgate deploy check\` again.`,
    );
  return bad ? ExitCode.INVALID_INPUT : ExitCode.OK;
}
