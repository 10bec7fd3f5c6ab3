import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { HaproxyConfigError } from "../errors.js";

export interface HaproxyCheckResult {
  valid: boolean;
  /** haproxy's combined stdout+stderr. */
  output: string;
  exitCode: number;
}

/** Runs the real `haproxy -c -f <file>` on a config file. */
export async function checkHaproxyConfigFile(path: string, bin = "haproxy"): Promise<HaproxyCheckResult> {
  const result = await execa(bin, ["-c", "-f", path], { all: true, reject: false, timeout: 15_000 });
  if (result.failed && result.exitCode === undefined) {
    throw new HaproxyConfigError(
      `Could not run \`${bin} -c -f ${path}\`: ${result.shortMessage}`,
      "Install HAProxy (`sudo apt-get install -y haproxy`) and check that it is on PATH.",
      { path, bin },
      result,
    );
  }
  return { valid: result.exitCode === 0, output: (result.all ?? "").trim(), exitCode: result.exitCode ?? -1 };
}

/** Checks config text with `haproxy -c` through a private temp file that is always removed. */
export async function checkHaproxyConfig(text: string, bin = "haproxy"): Promise<HaproxyCheckResult> {
  const dir = await mkdtemp(join(tmpdir(), "labgate-haproxy-"));
  try {
    const file = join(dir, "haproxy.cfg");
    await writeFile(file, text, { mode: 0o600 });
    return await checkHaproxyConfigFile(file, bin);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Like checkHaproxyConfig, but throws HaproxyConfigError with haproxy's message when invalid. */
export async function assertValidHaproxyConfig(text: string, bin = "haproxy"): Promise<void> {
  const result = await checkHaproxyConfig(text, bin);
  if (!result.valid) {
    throw new HaproxyConfigError(
      `HAProxy rejected the rendered config (haproxy -c exit ${result.exitCode}): ${firstAlert(result.output)}`,
      "This is a labgate bug or an unsupported HAProxy version; run `haproxy -vv` and report it with the config.",
      { exitCode: result.exitCode, output: result.output },
    );
  }
}

function firstAlert(output: string): string {
  const line = output.split("\n").find((l) => /\[ALERT\]/.test(l));
  return (line ?? output.split("\n")[0] ?? "").trim();
}
