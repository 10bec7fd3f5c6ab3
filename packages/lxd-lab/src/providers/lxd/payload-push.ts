import type { StepCall } from "../../engine/plan-step.js";
import { execCall, filesCall, mkdirFor } from "./instance-exec.js";
import { BOOT_HOOK_DIR } from "./instance-network.js";

/** Instance config key holding the hash of the payload last deployed: a changed payload is redeployed. */
export const PAYLOAD_HASH_KEY = "user.labgate.payload-hash";

/**
 * Where a payload goes and how it is started and stopped, known before its contents are rendered: the
 * plan shows it, and the payload (lab-payloads.ts) is built on it, so apply pushes the same paths.
 */
export interface PayloadLayout {
  /** `note` is what the plan says about the file (e.g. the servers a rendered config lists). */
  files: { path: string; note?: string }[];
  /** Path of the start script among `files`; run now and, as a boot hook, at every boot. */
  startScript: string;
  /** Boot hook name under /etc/labgate/boot.d, e.g. "50-app.sh". */
  bootHook: string;
  /** Stops what the start script started (undo). */
  stopCommand: string[];
}

/** The push of a payload into an instance: the calls shown and the argv and paths apply uses, from one value. */
export interface PayloadPush {
  mkdir: string[];
  hook: { path: string; content: string };
  run: string[];
  calls: StepCall[];
}

export function payloadPush(instance: string, layout: Omit<PayloadLayout, "stopCommand">): PayloadPush {
  const mkdir = mkdirFor(layout.files.map((f) => f.path));
  const hook = {
    path: `${BOOT_HOOK_DIR}/${layout.bootHook}`,
    content: `#!/bin/sh\nsh ${layout.startScript}\n`,
  };
  const run = ["sh", layout.startScript];
  return {
    mkdir,
    hook,
    run,
    calls: [
      execCall(instance, mkdir),
      ...layout.files.map((f) => filesCall(instance, f.path, f.note)),
      filesCall(instance, hook.path, `boot hook: sh ${layout.startScript}`),
      execCall(instance, run),
    ],
  };
}

/** The PATCH that records the deployed payload's hash on the instance ("" removes the key). */
export function hashPatch(hash: string): { config: Record<string, string> } {
  return { config: { [PAYLOAD_HASH_KEY]: hash } };
}

export function hashPatchCall(instance: string, hash: string, note?: string): StepCall {
  return {
    kind: "http",
    display: `PATCH /1.0/instances/${instance} ${JSON.stringify(hashPatch(hash))}${note ? `   # ${note}` : ""}`,
  };
}

/** The calls a deploy step's undo makes, in order (the service stopped only while the container runs). */
export function payloadUndoCalls(instance: string, layout: PayloadLayout, service: string): StepCall[] {
  return [
    execCall(instance, layout.stopCommand, `stop the ${service} service (if the container runs)`),
    execCall(instance, ["rm", "-f", payloadPush(instance, layout).hook.path]),
    hashPatchCall(instance, ""),
  ];
}
