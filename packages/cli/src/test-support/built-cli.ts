import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const CLI_BIN = join(REPO_ROOT, "packages/cli/dist/bin.js");

/** Source files whose compiled output the multi-process IP tests run; if any is newer than its .js, rebuild. */
function watched(): [string, string][] {
  const coreSrc = join(REPO_ROOT, "packages/core/src");
  const coreDist = join(REPO_ROOT, "packages/core/dist");
  const sources = (folder: string) =>
    readdirSync(join(coreSrc, folder))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .map((f) => `${folder}/${f}`);
  // The ledger's lock and atomic write live in fs/: a stale build of them would test old code.
  const ipPool = [...sources("ip-pool"), ...sources("fs")];
  // The deploy kill test runs the compiled deploy command against the Proxmox adapter.
  const deploy = [...sources("adapters"), ...sources("deploy-rules"), ...sources("util")];
  // `labgate sim opennebula` runs the simulator and its LXD-backed hypervisor from core.
  const sim = sources("platforms/opennebula/sim");
  const pairs: [string, string][] = [...ipPool, ...deploy, ...sim, "index.ts", "errors.ts"].map((f) => [
    join(coreSrc, f),
    join(coreDist, f.replace(/\.ts$/, ".js")),
  ]);
  // The fault bench runs lxd-lab's fault actions and local provider (namespaces, netem) in the child process.
  const labSrc = join(REPO_ROOT, "packages/lxd-lab/src");
  // ... and deploy apply/destroy run lxd-lab's deploy steps on its runner (engine).
  for (const folder of ["faults", "providers/local", "deploy", "engine"]) {
    for (const f of readdirSync(join(labSrc, folder)).filter(
      (n) => n.endsWith(".ts") && !n.endsWith(".test.ts"),
    ))
      pairs.push([
        join(labSrc, folder, f),
        join(REPO_ROOT, "packages/lxd-lab/dist", folder, f.replace(/\.ts$/, ".js")),
      ]);
  }
  // The AWS and Azure deploy kill tests run the adapters from @labgate/clouds.
  const cloudsSrc = join(REPO_ROOT, "packages/clouds/src");
  for (const f of readdirSync(cloudsSrc).filter((n) => n.endsWith(".ts") && !n.endsWith(".test.ts")))
    pairs.push([join(cloudsSrc, f), join(REPO_ROOT, "packages/clouds/dist", f.replace(/\.ts$/, ".js"))]);
  const ipCommands = readdirSync(join(REPO_ROOT, "packages/cli/src/commands"))
    .filter((f) => /^(ip(-[a-z-]+)?|deploy(-[a-z-]+)?|sim|bench(-[a-z-]+)?)\.ts$/.test(f))
    .map((f) => `commands/${f}`);
  for (const f of [...ipCommands, "program.ts", "main.ts", "bin.ts"]) {
    pairs.push([
      join(REPO_ROOT, "packages/cli/src", f),
      join(REPO_ROOT, "packages/cli/dist", f.replace(/\.ts$/, ".js")),
    ]);
  }
  return pairs;
}

function isStale(): boolean {
  return watched().some(([src, out]) => !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs);
}

/**
 * The multi-process tests must run the real compiled `labgate` binary. `npm test` builds first;
 * when a developer runs vitest alone on a stale or missing dist/, build it here (turbo caches).
 */
export function ensureBuiltCli(): string {
  if (!isStale()) return CLI_BIN;
  const build = spawnSync(
    "npx",
    ["turbo", "run", "build", "--filter=labgate...", "--output-logs=errors-only"],
    {
      cwd: REPO_ROOT,
      encoding: "utf8",
    },
  );
  if (build.status !== 0 || isStale()) {
    throw new Error(
      `Building the labgate CLI for the multi-process tests failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`,
    );
  }
  return CLI_BIN;
}
