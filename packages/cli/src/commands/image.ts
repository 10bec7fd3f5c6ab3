import { displayCommandLine, LxdClient } from "@labgate/core";
import {
  FALLBACK_DEBIAN_MIRROR,
  findDebianMirror,
  type ImageBuildResult,
  imageBuildOptions,
  imageBuildSteps,
  imageContext,
  runImageBuild,
} from "@labgate/lxd-lab";
import type { Command } from "commander";
import { createOutput } from "../output.js";
import { type LabIo, makeGate, processIo, withInterrupt } from "./lab-context.js";
import { LXD_SOCKET_HELP } from "./lxd-socket-help.js";

export interface ImageBuildFlags {
  alias?: string;
  suite?: string;
  mirror?: string;
  package?: string[];
  cache?: string;
  socket?: string;
  rebuild?: boolean;
  import?: boolean;
  cloudInit?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** `labgate image build`: an offline Debian image for LXD labs. */
export function registerImageCommands(program: Command): void {
  const image = program
    .command("image")
    .description("Images for LXD labs, built offline from the Debian mirror.");
  image
    .command("build")
    .description(
      "Build a small Debian image with debootstrap (python3, iproute2, haproxy, procps; a tiny init, no systemd;\n" +
        "with --cloud-init: systemd and cloud-init too), cache its tarballs and import it into LXD under an alias.\n" +
        "Every step is shown and confirmed; finished\n" +
        "steps (cached tarballs, image already in LXD) are skipped, so running it again changes nothing.",
    )
    .option(
      "--alias <name>",
      "LXD image alias (default labgate/debian-bookworm, with --cloud-init labgate/debian-bookworm-cloud)",
    )
    .option("--suite <suite>", "Debian suite", "bookworm")
    .option("--mirror <url>", "Debian mirror (default: the one in /etc/apt/sources.list[.d])")
    .option("--package <name>", "extra package to include, repeatable", collect, [])
    .option("--cache <dir>", "cache directory (default $LABGATE_IMAGE_CACHE or ~/.cache/labgate/images)")
    .option("--socket <path>", LXD_SOCKET_HELP)
    .option("--rebuild", "build again even when the cache has this image")
    .option("--no-import", "only build the tarballs; do not talk to LXD")
    .option(
      "--cloud-init",
      "the cloud-init variant: systemd + cloud-init, so labs get their address and payload through cloud-init",
    )
    .option("-y, --yes", "confirm every step")
    .option("--dry-run", "show the steps and which are already done; change nothing")
    .option("--json", "print the result as JSON on stdout")
    .action(async (flags: ImageBuildFlags) => {
      process.exitCode = await imageBuildCommand(flags);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export async function imageBuildCommand(flags: ImageBuildFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const suite = flags.suite ?? "bookworm";
  const mirror = flags.mirror ?? (await findDebianMirror(suite)) ?? FALLBACK_DEBIAN_MIRROR;
  const options = imageBuildOptions(
    {
      ...(flags.alias ? { alias: flags.alias } : {}),
      suite,
      packages: flags.package ?? [],
      ...(flags.cache ? { cacheDir: flags.cache } : {}),
      ...(flags.socket ? { socketPath: flags.socket } : {}),
      rebuild: Boolean(flags.rebuild),
      noImport: flags.import === false,
      cloudInit: Boolean(flags.cloudInit),
    },
    mirror,
  );
  let client: LxdClient | undefined;
  const clientFor = () => {
    client ??= new LxdClient(options.socketPath ? { socketPath: options.socketPath } : {});
    return client;
  };
  const steps = imageBuildSteps(options);
  out.info(`Image ${options.alias}: Debian ${suite} from ${mirror}, cache ${options.entryDir}`);
  const gate = flags.dryRun ? undefined : makeGate(flags.yes, io);
  try {
    const result = await withInterrupt(
      io,
      (signal) =>
        runImageBuild({
          ctx: imageContext(options, clientFor, (m) => out.info(m), signal),
          steps,
          gate: gate ?? makeGate(true, io),
          dryRun: Boolean(flags.dryRun),
          resume: resumeCommand(flags, mirror),
        }),
      `run \`labgate image build\` again: finished steps are cached (${options.entryDir})`,
    );
    out.result(result, formatImageBuild);
    return 0;
  } finally {
    gate?.close();
  }
}

/** The command that continues this build: the same image (alias, suite, mirror, packages, cache, variant). */
function resumeCommand(flags: ImageBuildFlags, mirror: string): string {
  const words = ["labgate", "image", "build"];
  if (flags.alias) words.push("--alias", flags.alias);
  if (flags.suite && flags.suite !== "bookworm") words.push("--suite", flags.suite);
  if (flags.mirror) words.push("--mirror", mirror);
  for (const p of flags.package ?? []) words.push("--package", p);
  if (flags.cache) words.push("--cache", flags.cache);
  if (flags.socket) words.push("--socket", flags.socket);
  if (flags.import === false) words.push("--no-import");
  if (flags.cloudInit) words.push("--cloud-init");
  return displayCommandLine(words);
}

export function formatImageBuild(r: ImageBuildResult): string {
  const lines = r.steps.map((s) => {
    const mark = { "already-done": "=", applied: "+", skipped: "-", "would-run": "?", unknown: "!" }[
      s.outcome
    ];
    return `${mark} ${s.id.padEnd(12)} ${s.outcome}${s.detail ? `: ${s.detail}` : ""}${s.seconds !== undefined ? ` (${s.seconds} s)` : ""}`;
  });
  if (r.dryRun)
    for (const s of r.steps.filter((x) => x.outcome === "would-run"))
      lines.push(`  ${s.id}: ${s.commands.join("\n    ")}`);
  lines.push(r.message);
  if (r.fingerprint) lines.push(`fingerprint ${r.fingerprint}`);
  return lines.join("\n");
}
