import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseDuration } from "@labgate/bench/duration";
import {
  checkDeployment,
  createAdapter,
  DEFAULT_DEPLOY_STATE_DIR,
  type DeploymentPlan,
  DeployNotConfirmedError,
  type DeployRecord,
  type DeploySpec,
  DeploySpecError,
  deployOwner,
  deployStatePath,
  ExitCode,
  type Finding,
  formatFinding,
  hasErrors,
  INTENT_KEY,
  InvalidInputError,
  IpPool,
  LabgateError,
  loadDeploySpec,
  localLoopbackPoolConfig,
  makeDeployStateDir,
  type NodeRef,
  ON_PREM_PLATFORMS,
  PLATFORMS,
  type PlatformName,
  PreconditionError,
  readDeployRecord,
  removeDeployRecord,
  resolveDeployNetwork,
  resolveIpPoolConfigPath,
  StateError,
  usesDhcp,
  withFileLock,
  writeDeployRecord,
} from "@labgate/core";
import { isLabgateError } from "@labgate/core/errors";
import type { Command } from "commander";
import { createOutput, type Output, type OutputStreams } from "../output.js";
import { askYes } from "./ask-yes.js";
import { loadPlatformAdapters } from "./deploy-platforms.js";

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
}

export interface DeployIo extends OutputStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
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
      cmd.option("-y, --yes", "do not ask; the plan is still printed");
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
    "Show the API calls and commands a deployment would make (the address it would get from the pool, too).",
  );
  add("apply", "Deploy: print the plan, ask, then create the VM and wait until it runs.");
  add("destroy", "Remove a VM deployed with apply and release its address.");
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
  if (action === "destroy") return destroy(out, adapter, spec, platform, statePath, pool, flags, io);
  for (const f of findings) if (f.severity !== "error") out.info(formatFinding(f));

  const preview = await resolveDeployNetwork(spec, platform, pool, { dryRun: true });
  const plan = adapter.plan(preview.spec);
  if (action === "plan") {
    const recorded = await readDeployRecord(statePath);
    if (recorded?.status === "creating")
      out.warn(
        `An earlier apply of ${spec.name} was interrupted (${statePath}); apply will first look on ${platform} for what it left${recorded.ref.id ? ` (node ${recorded.ref.id})` : ""} and remove it.`,
      );
    out.result(
      { platform, findings, plan, ...(recorded?.status === "creating" ? { interrupted: recorded.ref } : {}) },
      () => formatPlan(plan),
    );
    return ExitCode.OK;
  }
  // One apply per node at a time: a second one would see no record yet and create a twin.
  await makeDeployStateDir(dirname(statePath));
  return withFileLock(
    `${statePath}.apply`,
    () => apply(out, adapter, spec, platform, statePath, pool, plan, specPath, flags, io),
    {
      timeoutMs: 2_000,
    },
  );
}

async function apply(
  out: Output,
  adapter: ReturnType<typeof createAdapter>,
  spec: DeploySpec,
  platform: PlatformName,
  statePath: string,
  pool: IpPool | undefined,
  plan: DeploymentPlan,
  specPath: string,
  flags: DeployFlags,
  io: DeployIo,
): Promise<number> {
  const existing = await readDeployRecord(statePath);
  if (existing && existing.status !== "creating") {
    throw new StateError(
      "DEPLOY_EXISTS",
      `${spec.name} is already deployed on ${platform} (id ${existing.ref.id}, recorded in ${statePath}).`,
      {
        hint: `Run \`labgate deploy destroy ${specPath} --platform ${platform}\` first, or deploy under another name.`,
      },
    );
  }
  // An interrupted apply left its intent: what it may have created is found by id and name, and replaced.
  const leftovers = existing ? await findLeftovers(adapter, existing, statePath) : [];
  out.info(formatPlan(plan));
  if (existing) out.warn(interruptedNotice(existing, leftovers, statePath));
  await confirm(
    `Deploy ${spec.name} on ${platform} with these ${plan.calls.length} steps${leftovers.length ? `, after removing ${leftovers.length} node(s) left by the interrupted apply` : ""}?`,
    flags,
    io,
  );
  for (const leftover of leftovers) {
    out.info(`Removing ${platform} node ${leftover.id} (${leftover.name}) left by the interrupted apply ...`);
    await adapter.destroy(leftover, { onCall: (d) => out.info(`  → ${d}`) });
  }

  const resolved = await resolveDeployNetwork(spec, platform, pool);
  const network = resolved.spec.resolvedNetwork;
  if (network.mode === "static" && plan.network.mode === "static" && network.ip !== plan.network.ip)
    out.warn(
      `The pool changed since the plan was made: ${spec.name} gets ${network.ip}, not ${plan.network.ip}.`,
    );
  const owner = network.mode === "static" && pool ? deployOwner(spec, platform) : undefined;
  const releaseAddress = async () => {
    if (owner && pool) await pool.release({ owner }).catch(() => undefined);
  };
  const record = (ref: NodeRef, status?: "creating"): DeployRecord => ({
    version: 1,
    ...(status ? { status } : {}),
    ref,
    network,
    ...(owner ? { ipOwner: owner } : {}),
    createdAt: new Date().toISOString(),
  });
  // Intent first: a process killed during a mutating call leaves a record naming what it was making.
  const intend = (ref: NodeRef) => writeDeployRecord(statePath, record(ref, "creating"));
  await intend({ platform, id: "", name: spec.name });
  let ref: Awaited<ReturnType<typeof adapter.create>>;
  try {
    ref = await adapter.create(resolved.spec, {
      onCall: (d) => out.info(`  → ${d}`),
      beforeMutation: intend,
    });
  } catch (error) {
    // Adapters that can look nodes up announce every mutating call; the others clean up inside create.
    const intent = canLookUp(adapter) ? await readDeployRecord(statePath).catch(() => undefined) : undefined;
    const left = intent ? await findLeftovers(adapter, intent, statePath).catch(() => undefined) : [];
    if (left === undefined || left.length > 0) {
      // Something may exist on the platform: keep the record (and the address) so destroy or a re-run finds it.
      out.warn(
        `${spec.name} may be half-created on ${platform}${left?.length ? ` (node ${left.map((r) => r.id).join(", ")})` : ""}; ${statePath} keeps it. Run \`labgate deploy destroy ${specPath}\` or apply again.`,
      );
      throw error;
    }
    // Nothing was created: give the address back so the pool does not leak it, and drop the intent.
    await releaseAddress();
    await removeDeployRecord(statePath);
    throw error;
  }
  try {
    await writeDeployRecord(statePath, record(ref));
  } catch (error) {
    // Without a record, destroy could never find this node again: remove it rather than leave it behind.
    out.warn(`Could not record ${spec.name} in ${statePath}; removing node ${ref.id} again.`);
    await adapter.destroy(ref).catch(() => undefined);
    await releaseAddress();
    throw error;
  }
  out.info(`Created ${ref.platform} node ${ref.id}; waiting for it to run ...`);
  const info = await adapter.waitUntilRunning(ref, { timeoutMs: timeoutMs(flags) });
  out.result(
    {
      platform,
      ref,
      network: resolved.spec.resolvedNetwork,
      state: info.state,
      addresses: info.addresses,
      record: statePath,
    },
    (r) =>
      [
        `${spec.name} is ${r.state} on ${platform} (id ${r.ref.id})`,
        ...networkLines(r.network),
        `record: ${r.record}`,
      ].join("\n"),
  );
  return ExitCode.OK;
}

async function destroy(
  out: Output,
  adapter: ReturnType<typeof createAdapter>,
  spec: DeploySpec,
  platform: PlatformName,
  statePath: string,
  pool: IpPool | undefined,
  flags: DeployFlags,
  io: DeployIo,
): Promise<number> {
  const record = await readDeployRecord(statePath);
  if (!record) {
    // Exit 4 (as the README says): what destroy needs, the record, is missing; nothing is broken.
    throw new PreconditionError(
      "DEPLOY_NOT_FOUND",
      `No deploy record for ${spec.name} on ${platform} (${statePath}).`,
      {
        hint: "Only VMs created with `labgate deploy apply` can be destroyed here; check --state-dir and --platform.",
      },
    );
  }
  // An interrupted apply's record may not name the node yet (or may name one that was never made).
  const targets =
    record.status === "creating" ? await findLeftovers(adapter, record, statePath) : [record.ref];
  if (record.status === "creating") out.warn(interruptedNotice(record, targets, statePath));
  out.info(
    `Will destroy ${targets.length ? targets.map((r) => `${platform} node ${r.id} (${r.name})`).join(", ") : "nothing on the platform"}${record.network.mode === "static" ? ` and release ${record.network.ip}` : ""}.`,
  );
  await confirm(`Destroy ${record.ref.name}?`, flags, io);
  for (const target of targets) await adapter.destroy(target, { onCall: (d) => out.info(`  → ${d}`) });
  const released = record.ipOwner && pool ? await pool.release({ owner: record.ipOwner }) : [];
  await removeDeployRecord(statePath);
  out.result(
    { platform, destroyed: targets[0] ?? record.ref, released: released.map((a) => a.ip) },
    (r) =>
      `destroyed ${r.destroyed.name} (${r.destroyed.id})${r.released.length ? `, released ${r.released.join(", ")}` : ""}`,
  );
  return ExitCode.OK;
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

/**
 * What an interrupted apply may have left on the platform: nodes carrying the recorded name (and the
 * recorded id, once the adapter named one). Looked up on the platform, never taken from the record alone.
 */
async function findLeftovers(
  adapter: ReturnType<typeof createAdapter>,
  record: DeployRecord,
  statePath: string,
): Promise<NodeRef[]> {
  const { id, name } = record.ref;
  if (canLookUp(adapter)) {
    // Such adapters announce each mutating call with the id (or a claim they stamp on the node) first:
    // a record with neither means nothing was sent.
    if (!id && !record.ref.location?.[INTENT_KEY]) return [];
    if (adapter.findLeftovers) return adapter.findLeftovers(record.ref);
    return ((await adapter.findByName?.(name)) ?? []).filter((r) => r.id === id);
  }
  if (id && (await adapter.get(record.ref))) return [record.ref];
  if (!id) {
    throw new StateError(
      "DEPLOY_INTERRUPTED_UNKNOWN",
      `An apply of ${name} on ${record.ref.platform} was interrupted before the platform named the node, and this adapter cannot look nodes up by name.`,
      {
        hint: `Look for a node named ${name} on the platform and remove it by hand if it exists, then delete ${statePath}${record.ipOwner ? ` and run \`labgate ip release --owner ${record.ipOwner}\`` : ""}.`,
      },
    );
  }
  return [];
}

function canLookUp(adapter: ReturnType<typeof createAdapter>): boolean {
  return Boolean(adapter.findLeftovers ?? adapter.findByName);
}

function interruptedNotice(record: DeployRecord, found: NodeRef[], statePath: string): string {
  const what = found.length
    ? `it left ${found.map((r) => `node ${r.id}`).join(", ")} on ${record.ref.platform}`
    : `nothing of it is on ${record.ref.platform}`;
  return `An earlier apply of ${record.ref.name} was interrupted (intent recorded ${record.createdAt} in ${statePath}); ${what}.`;
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

export function formatPlan(plan: DeploymentPlan): string {
  const lines = [
    `Plan for ${plan.name} on ${plan.platform}:`,
    ...networkLines(plan.network).map((l) => `  ${l}`),
    "",
  ];
  plan.calls.forEach((c, i) => {
    const where = c.kind === "command" ? (c.where === "host" ? "host$ " : "$ ") : `${c.action} `;
    lines.push(`  ${i + 1}. ${where}${c.kind === "command" ? c.target : c.target}`);
    lines.push(`     ${c.why}`);
    if (c.params) lines.push(`     ${JSON.stringify(c.params)}`);
  });
  return lines.join("\n");
}

function networkLines(n: DeploymentPlan["network"]): string[] {
  if (n.mode === "dhcp") return ["network: DHCP"];
  if (n.mode === "fixed") return [`address: ${n.ip} (pinned by the platform, handed out by its DHCP)`];
  return [
    `address: ${n.ip}/${n.prefix} (netmask ${n.netmask}, from ${n.source})`,
    `gateway: ${n.gateway}`,
    `dns: ${n.dns.length > 0 ? n.dns.join(", ") : "(none)"}`,
  ];
}

/** The gate: --yes goes on; a terminal is asked; no terminal and no --yes is refused (exit 7). */
async function confirm(question: string, flags: DeployFlags, io: DeployIo): Promise<void> {
  if (flags.yes) return;
  if (!io.stdin.isTTY) {
    throw new DeployNotConfirmedError(
      `${question} needs a yes, but stdin is not a terminal, so there is no one to ask.`,
      {
        hint: "Run it in a terminal, or pass --yes after reviewing `labgate deploy plan`.",
      },
    );
  }
  if (!(await askYes(question, io))) {
    throw new DeployNotConfirmedError("Not confirmed; nothing was changed.", {
      hint: "Answer y to go ahead, or pass --yes.",
    });
  }
}
