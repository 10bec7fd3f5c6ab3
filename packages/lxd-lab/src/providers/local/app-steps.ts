import { createHash } from "node:crypto";
import { displayQuote } from "@labgate/core";
import type { StepDescription } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { readSentimentAppFiles, sentimentAppEntry } from "../../payload/sentiment-app.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { ADDRESS_STEP_ID } from "./address-step.js";
import {
  answers,
  type ManagedProcess,
  ownProcessAlive,
  processRecord,
  startManagedProcess,
  stopManagedProcess,
} from "./instance-process.js";
import { type LocalApp, labAddress, localOptions, localPaths } from "./local-lab.js";
import { waitFor } from "./local-process.js";
import { appAddress, inNetns, netnsOfApp } from "./netns-plan.js";
import { netnsStepId } from "./netns-step.js";
import { probe, STATE_PLACEHOLDER, startCall } from "./process-calls.js";
import { stopProcessCalls } from "./undo-calls.js";

export function appProcess(spec: LabSpec, app: LocalApp, stepId: string, labAddress: string): ManagedProcess {
  const entry = sentimentAppEntry();
  const netns = netnsOfApp(spec, app.name);
  const address = appAddress(spec, app, labAddress);
  const argv = inNetns(netns, [
    localOptions(spec).python,
    entry,
    "--name",
    app.name,
    "--host",
    address,
    "--port",
    String(app.port),
  ]) as [string, ...string[]];
  return {
    stepId,
    name: app.name,
    argv,
    markers: [entry, app.name, String(app.port)],
    // In its own namespace the port is that namespace's alone: nothing on this host can hold it.
    ports: netns ? [] : [app.port],
    address,
    healthy: (ctx: StepContext) => answers(healthUrl(address, app), app.name, ctx.signal),
    extraData: { role: "app", port: app.port, ...(netns ? { netns: netns.netns } : {}) },
    // The payload may sit in a read-only install; never write __pycache__ beside it.
    env: { PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" },
  };
}

/** sha256 (first 16 hex) of the app's files: what a running instance was started from. */
export async function appPayloadHash(): Promise<string> {
  const h = createHash("sha256");
  for (const f of await readSentimentAppFiles()) h.update(`${f.name}\0${f.content}\0`);
  return h.digest("hex").slice(0, 16);
}

/** The process runs code other than the app files now on disk (they changed since it started). */
async function appDrift(ctx: StepContext, name: string): Promise<string | undefined> {
  const started = processRecord(ctx, name)?.data?.["payloadHash"];
  if (typeof started !== "string") return undefined;
  const now = await appPayloadHash();
  return started === now
    ? undefined
    : `the app files changed since ${name} started (sha256 ${started}, now ${now}): it runs the old code`;
}

export function healthUrl(address: string, app: LocalApp): string {
  return `http://${address}:${app.port}/health`;
}

/** What check saw of the app's process: its pid, and why it is out of date if it is. */
export interface AppFacts {
  pid?: number;
  drift?: string;
}

export const appStepId = (app: LocalApp) => `start-${app.name}`;

/** Starts one sentiment app instance as a detached python3 process. */
export function startAppStep(spec: LabSpec, app: LocalApp): LabStep<AppFacts> {
  const id = appStepId(app);
  const { bindAddress, python } = localOptions(spec);
  const netns = netnsOfApp(spec, app.name);
  const proc = (ctx: StepContext) => appProcess(ctx.spec, app, id, labAddress(ctx));
  const addressOf = (ctx: StepContext) => appAddress(ctx.spec, app, labAddress(ctx));
  const runIn = netns ? `ip netns exec ${netns.netns} ` : "";
  // The calls come from the process startManagedProcess spawns: at plan time on the configured address.
  const describe = (address: string, ctx?: StepContext): StepDescription => {
    const shown = appAddress(spec, app, address);
    return {
      id,
      title: `Start ${app.name}: the sentiment app on ${shown}:${app.port}${netns ? ` in namespace ${netns.netns}` : ""}`,
      why:
        `${app.name} is one of the ${spec.apps.count} identical app instances HAProxy balances across. It is the ` +
        "sentiment-analysis API (python3 standard library only), started as a background process that keeps " +
        "running after this command ends. Every answer carries `X-Served-By: " +
        `${app.name}\`, which is how the round-robin check later sees who served each request.`,
      calls: [
        startCall(appProcess(spec, app, id, address).argv, STATE_PLACEHOLDER, app.name),
        probe(`curl -si ${healthUrl(shown, app)}   # expect 200 and X-Served-By: ${app.name}`),
      ],
      undoCalls: stopProcessCalls(app.name, ctx && processRecord(ctx, app.name)),
      diagnostics: [
        `tail -n 50 <state dir>/logs/${app.name}.log`,
        `${runIn}ss -ltnp 'sport = :${app.port}'`,
        `${displayQuote(python)} ${displayQuote(sentimentAppEntry())} --name ${app.name} --port ${app.port}   # run it in the foreground`,
      ],
      needs: [ADDRESS_STEP_ID, ...(netns ? [netnsStepId(app.name)] : [])],
    };
  };
  return {
    description: describe(bindAddress),
    current: (ctx) => describe(labAddress(ctx), ctx),
    actions: {
      async check(ctx) {
        const p = proc(ctx);
        const pid = await ownProcessAlive(ctx, p);
        if (pid === undefined) return { done: false, detail: `${app.name} is not running`, facts: {} };
        const drift = await appDrift(ctx, app.name);
        if (drift) return { done: false, detail: `drift: ${drift}`, facts: { pid, drift } };
        // A process started just before an interruption may still be loading: give it a moment.
        const healthy = await waitFor(() => p.healthy(ctx), 3_000, ctx.signal, 150);
        return healthy
          ? {
              done: true,
              detail: `${app.name} pid ${pid} answers /health on ${addressOf(ctx)}:${app.port}`,
              facts: { pid },
            }
          : {
              done: false,
              detail: `${app.name} pid ${pid} runs but /health does not answer correctly`,
              facts: { pid },
            };
      },
      async apply(ctx, found) {
        const p = proc(ctx);
        // The drift check saw is used as it is: the app files are not hashed again between check and apply.
        const { drift } = found.facts;
        if (drift) ctx.log(`${id}: drift found: ${drift}`);
        p.extraData = { ...p.extraData, payloadHash: await appPayloadHash() };
        // A process of ours that runs but is unhealthy (or on a port the spec no longer has) is
        // replaced, not left running: match it by app path and name only.
        const previous = { ...p, markers: [sentimentAppEntry(), app.name] };
        if ((await ownProcessAlive(ctx, previous)) !== undefined) await stopManagedProcess(ctx, previous);
        const pid = await startManagedProcess(ctx, p);
        if (drift) ctx.log(`${id}: repaired: restarted ${app.name} on the current app files (pid ${pid})`);
      },
      async verify(ctx) {
        const url = healthUrl(addressOf(ctx), app);
        if (!(await answers(url, app.name, ctx.signal))) {
          throw new StepFailedError(id, `GET ${url} did not answer 200 with X-Served-By: ${app.name}.`, {
            hint: `curl -si ${url}; then read ${localPaths.logFile(ctx.stateDir, app.name)}`,
          });
        }
      },
      async undo(ctx) {
        await stopManagedProcess(ctx, proc(ctx));
      },
    },
  };
}
