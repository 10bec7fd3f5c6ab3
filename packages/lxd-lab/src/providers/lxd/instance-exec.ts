import type { LxdClient } from "@labgate/core";
import type { StepCall } from "../../engine/plan-step.js";
import { StepFailedError } from "../../errors.js";
import { BOOT_HOOK_DIR } from "./instance-network.js";

export interface LxdWait {
  timeoutMs: number;
  signal: AbortSignal;
}

/** Asks the instance whether its image has cloud-init. */
export const CLOUD_INIT_PROBE = ["sh", "-c", "command -v cloud-init"];
/** Waits until cloud-init has finished (its result is judged by the health probe, not by its exit code). */
export const CLOUD_INIT_WAIT = ["sh", "-c", "cloud-init status --wait || true"];

/** Whether the instance's image really has cloud-init (a "cloud-init" spec on a plain image falls back to push). */
export async function hasCloudInit(client: LxdClient, instance: string, wait: LxdWait): Promise<boolean> {
  return (await client.exec(instance, CLOUD_INIT_PROBE, wait)).exitCode === 0;
}

/** `POST /1.0/instances/NAME/exec {"command":[...]}`: how an exec is shown, from the argv it sends. */
export function execCall(instance: string, command: string[], comment?: string): StepCall {
  return {
    kind: "http",
    display: `POST /1.0/instances/${instance}/exec ${JSON.stringify({ command, "record-output": true })}${comment ? `   # ${comment}` : ""}`,
  };
}

/** `POST /1.0/instances/NAME/files?path=PATH`: a file pushed into an instance, as shown. */
export function filesCall(instance: string, path: string, note?: string): StepCall {
  return {
    kind: "http",
    display: `POST /1.0/instances/${instance}/files?path=${path}${note ? `   # ${note}` : ""}`,
  };
}

/** A shell script pushed into an instance (its directory made first) and run: the calls and their argv, once. */
export interface ScriptRun {
  instance: string;
  path: string;
  content: string;
  mkdir: string[];
  run: string[];
  calls: StepCall[];
}

/** `mkdir -p` of the directories the files go to, and of the boot hook directory. */
export function mkdirFor(paths: string[]): string[] {
  return [
    "mkdir",
    "-p",
    ...new Set([...paths.map((p) => p.slice(0, p.lastIndexOf("/")) || "/"), BOOT_HOOK_DIR]),
  ];
}

export function scriptRun(instance: string, path: string, content: string, summary: string): ScriptRun {
  const mkdir = mkdirFor([path]);
  const run = ["sh", path];
  return {
    instance,
    path,
    content,
    mkdir,
    run,
    calls: [execCall(instance, mkdir), filesCall(instance, path, summary), execCall(instance, run)],
  };
}

/** Pushes the script and runs it; a non-zero exit fails the step with its output. */
export async function runScript(
  client: LxdClient,
  s: ScriptRun,
  stepId: string,
  wait: LxdWait,
): Promise<string> {
  await execOrFail(client, s.instance, s.mkdir, stepId, wait);
  await client.pushFile(s.instance, s.path, s.content, { mode: 0o755 });
  return execOrFail(client, s.instance, s.run, stepId, wait);
}

export async function execOrFail(
  client: LxdClient,
  instance: string,
  command: string[],
  stepId: string,
  wait: LxdWait,
): Promise<string> {
  const result = await client.exec(instance, command, wait);
  if (result.exitCode !== 0) {
    throw new StepFailedError(
      stepId,
      `\`${command.join(" ")}\` in ${instance} exited with ${result.exitCode}: ${(result.stderr || result.stdout).trim().slice(-800) || "no output"}`,
      {
        hint: `lxc exec ${instance} -- ${command.join(" ")}`,
        details: { stdout: result.stdout.slice(-2000), stderr: result.stderr.slice(-2000) },
      },
    );
  }
  return result.stdout;
}
