import { createHash } from "node:crypto";
import { getLxdInstance, type LxdClient, sleep } from "@labgate/core";
import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep, ResourceRecord, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { configFileDrift } from "../../haproxy/live-config.js";
import { CLOUD_INIT_PROBE, CLOUD_INIT_WAIT, execCall, execOrFail, hasCloudInit } from "./instance-exec.js";
import { fillKnown, PAYLOAD_HASH_DATA_KEY } from "./known-values.js";
import { LAB_MARKER_KEY, type LxdInstancePlan, type LxdLabOptions } from "./lxd-lab-options.js";
import type { LxdClientFactory } from "./lxd-runtime.js";
import { plannedPayloadMode, type ResolvedPayload, resolvePayloadMode } from "./payload-mode.js";
import {
  hashPatch,
  hashPatchCall,
  PAYLOAD_HASH_KEY,
  type PayloadLayout,
  payloadPush,
  payloadUndoCalls,
} from "./payload-push.js";
import { notRunning } from "./running-state.js";

export { PAYLOAD_HASH_KEY } from "./payload-push.js";

export interface PayloadFileSpec {
  path: string;
  content: string;
  mode?: number;
}

/** What runs in an instance: the files of its layout with their contents, and how to tell it works. */
export interface InstancePayload extends Omit<PayloadLayout, "files"> {
  files: PayloadFileSpec[];
  /** undefined when healthy, else what is wrong. Read-only, from the host over the bridge. */
  probe(signal: AbortSignal): Promise<string | undefined>;
  /**
   * Instances the probe's requests pass through (the LB's backends). While one of them is not running,
   * a check runs `probeLocal` instead: a request HAProxy sends to a stopped container waits for its
   * connect timeout and retries, and the stopped container is reported by its own check at once.
   */
  through?: string[];
  /** The part of the probe that needs only this instance (the LB's own stats page). */
  probeLocal?(signal: AbortSignal): Promise<string | undefined>;
  /**
   * Files the start script installs from the payload (e.g. the LB's /etc/haproxy/haproxy.cfg, copied
   * from the staged config or its fallback): each must still equal one of `from`.
   */
  installed?: { path: string; from: string[] }[];
  /** Drift of the running service itself (e.g. what the live HAProxy balances with). Read-only. */
  liveDrift?(signal: AbortSignal): Promise<string[]>;
}

export interface DeployStepOptions {
  o: LxdLabOptions;
  plan: LxdInstancePlan;
  clientFor: LxdClientFactory;
  title: string;
  why: string;
  /** Where the payload goes: what the plan shows before the payload is rendered. */
  layout: PayloadLayout;
  payload: (ctx: StepContext) => Promise<InstancePayload>;
  /** The health probe as the plan shows it, e.g. `GET http://<NAME address>:8000/health`. */
  probe: string;
  /** What the service is called in the undo plan ("app", "HAProxy"). */
  service: string;
}

export function payloadHash(payload: InstancePayload): string {
  const h = createHash("sha256");
  for (const f of payload.files) h.update(`${f.path}\0${f.mode ?? 0o644}\0${f.content}\0`);
  h.update(`${payload.startScript}\0${payload.bootHook}`);
  return h.digest("hex").slice(0, 16);
}

/** What check saw: the payload and its hash, the hash LXD records as deployed, the drift, the payload mode. */
export interface DeployFacts {
  payload: InstancePayload;
  want: string;
  /** The hash in the instance's config; undefined before the first deploy. */
  deployed: string | undefined;
  drift: string[];
  mode: ResolvedPayload;
  problem?: string;
  /** Backends the probe did not go through because LXD says they are not running. */
  notProbed?: string[];
}

/** The deploy step's calls, with the recorded addresses and hash filled in when `known` has them. */
function deployCalls(
  o: LxdLabOptions,
  plan: LxdInstancePlan,
  layout: PayloadLayout,
  probe: string,
  known: ResourceRecord[],
): StepCall[] {
  // With cloud-init the payload arrived in cloud-init.user-data at first boot: the step waits for it
  // and checks; pushing through the API is only the fallback when cloud-init did not bring it up.
  const viaCloudInit = plannedPayloadMode(o) === "cloud-init";
  const calls: StepCall[] = [
    ...(viaCloudInit
      ? [
          execCall(plan.instance, CLOUD_INIT_PROBE, "first deploy: does the image have cloud-init?"),
          execCall(plan.instance, CLOUD_INIT_WAIT, "the payload came in cloud-init.user-data"),
          { display: "# only if it does not answer after cloud-init (or on a later redeploy):" },
        ]
      : []),
    ...payloadPush(plan.instance, layout).calls,
    { kind: "probe", display: probe },
    hashPatchCall(plan.instance, "<hash>", "sha256 of the payload, first 16 hex"),
  ];
  const filled = fillKnown(
    calls.map((c) => c.display),
    known,
    plan.instance,
  );
  return calls.map((c, i) => ({ ...c, display: filled[i] ?? c.display }));
}

/**
 * Puts the payload into a running instance and starts it. With cloud-init the instance already
 * got it at first boot (this step waits for cloud-init and the health probe); otherwise, or when
 * the payload changed since, the files are pushed through the API and the start script is run.
 */
export function deployStep({
  o,
  plan,
  clientFor,
  title,
  why,
  layout,
  payload,
  probe,
  service,
}: DeployStepOptions): LabStep<DeployFacts> {
  const id = `deploy-${plan.name}`;

  const state = async (ctx: StepContext): Promise<DeployFacts> => {
    const client = clientFor(o);
    const p = await payload(ctx);
    const want = payloadHash(p);
    const instance = await getLxdInstance(client, plan.instance);
    const have = instance?.config[PAYLOAD_HASH_KEY];
    const mode = await resolvePayloadMode(client, o);
    const facts: DeployFacts = { payload: p, want, deployed: have, drift: [], mode };
    // LXD's word first: a stopped container cannot serve, and probing its address only waits for a timeout.
    if (instance && instance.status !== "Running")
      return { ...facts, problem: `${plan.instance} is ${instance.status}` };
    if (have !== want)
      return { ...facts, problem: have ? "the payload changed since it was deployed" : "not deployed yet" };
    // The recorded hash says what labgate deployed; the files and the service say what is there now.
    const drift = [
      ...(await payloadDrift(client, plan.instance, p)),
      ...((await p.liveDrift?.(ctx.signal)) ?? []),
    ];
    if (drift.length) return { ...facts, drift, problem: `drift: ${drift.join("; ")}` };
    const down = p.through?.length && p.probeLocal ? await notRunning(client, p.through) : [];
    if (down.length && p.probeLocal) {
      const unhealthy = await p.probeLocal(ctx.signal);
      return { ...facts, ...(unhealthy ? { problem: unhealthy } : {}), notProbed: down };
    }
    const unhealthy = await p.probe(ctx.signal);
    return { ...facts, ...(unhealthy ? { problem: unhealthy } : {}) };
  };

  const description: StepDescription = {
    id,
    title,
    why,
    calls: deployCalls(o, plan, layout, probe, []),
    undoCalls: payloadUndoCalls(plan.instance, layout, service),
    diagnostics: [
      `lxc exec ${plan.instance} -- sh -c 'tail -30 /var/log/labgate*.log /var/log/labgate/*.log'`,
      `lxc exec ${plan.instance} -- ss -ltnp`,
    ],
  };
  return {
    description,
    current: (ctx) => ({ ...description, calls: deployCalls(o, plan, layout, probe, ctx.resources()) }),
    actions: {
      async check(ctx) {
        const facts = await state(ctx);
        if (facts.problem) return { done: false, detail: facts.problem, facts };
        return {
          done: true,
          detail: facts.notProbed
            ? `${plan.instance} answers; not probed through its backends (${facts.notProbed.join(", ")})`
            : `${plan.instance} is serving`,
          facts,
        };
      },
      async apply(ctx, found) {
        const { payload: p, want, drift, mode, deployed } = found.facts;
        const client = clientFor(o);
        if (drift.length) ctx.log(`${id}: drift found: ${drift.join("; ")}`);
        const wait = { timeoutMs: o.timeoutMs, signal: ctx.signal };
        let healthy = false;
        if (mode === "cloud-init" && !deployed && (await hasCloudInit(client, plan.instance, wait))) {
          ctx.log(`${plan.instance}: waiting for cloud-init to finish`);
          await client.exec(plan.instance, CLOUD_INIT_WAIT, wait);
          healthy = (await waitHealthy(p, 30_000, ctx.signal)) === undefined;
          if (!healthy)
            ctx.log(`${plan.instance}: cloud-init did not bring it up; pushing the payload instead`);
        }
        if (!healthy) {
          const push = payloadPush(plan.instance, p);
          await execOrFail(client, plan.instance, push.mkdir, id, wait);
          for (const f of p.files)
            await client.pushFile(plan.instance, f.path, f.content, { mode: f.mode ?? 0o644 });
          await client.pushFile(plan.instance, push.hook.path, push.hook.content, { mode: 0o755 });
          const out = await execOrFail(client, plan.instance, push.run, id, wait);
          if (out.trim()) ctx.log(`${plan.instance}: ${out.trim().split("\n").slice(-1)[0]}`);
          if (drift.length)
            ctx.log(
              `${id}: repaired: pushed ${p.files.length} payload files into ${plan.instance} and re-ran ${p.startScript}`,
            );
        }
        await client.patchInstance(plan.instance, hashPatch(want), wait);
        // Kept on the container's record too, so plans and gates show the hash instead of a placeholder.
        await setRecordedHash(ctx, plan.instance, want);
      },
      async verify(ctx) {
        const p = await payload(ctx);
        const problem = await waitHealthy(p, 15_000, ctx.signal);
        if (problem) {
          throw new StepFailedError(id, `${plan.instance} is not serving: ${problem}.`, {
            hint: `lxc exec ${plan.instance} -- sh -c 'tail -30 /var/log/labgate*.log /var/log/labgate/*.log'`,
          });
        }
      },
      async undo(ctx) {
        const client = clientFor(o);
        const instance = await getLxdInstance(client, plan.instance);
        if (!instance || instance.config[LAB_MARKER_KEY] !== o.lab || instance.status !== "Running") return;
        const wait = { timeoutMs: o.timeoutMs, signal: ctx.signal };
        await client.exec(plan.instance, layout.stopCommand, wait);
        await client.exec(plan.instance, ["rm", "-f", payloadPush(plan.instance, layout).hook.path], wait);
        // LXD removes a config key when it is set to "".
        await client.patchInstance(plan.instance, hashPatch(""), wait);
        await setRecordedHash(ctx, plan.instance, undefined);
      },
    },
  };
}

/**
 * What differs inside the instance from the payload: every file by content (read back through the
 * API) and every installed copy against the files it may come from.
 */
export async function payloadDrift(
  client: LxdClient,
  instance: string,
  p: InstancePayload,
): Promise<string[]> {
  const drift: string[] = [];
  const read = async (path: string) => (await client.readFile(instance, path))?.toString("utf8");
  for (const f of p.files) {
    const have = await read(f.path);
    drift.push(...configFileDrift(`${f.path} in ${instance}`, have, f.content));
  }
  for (const copy of p.installed ?? []) {
    const have = await read(copy.path);
    const sources = copy.from.map((path) => p.files.find((f) => f.path === path)?.content ?? "");
    if (have !== undefined && sources.includes(have)) continue;
    // Compared with the source it most resembles, so the lines named are the ones someone edited.
    const closest = sources.reduce((best, c) => (sameLines(c, have) > sameLines(best, have) ? c : best));
    drift.push(...configFileDrift(`${copy.path} in ${instance}`, have, closest));
  }
  return drift;
}

function sameLines(a: string, b: string | undefined): number {
  if (b === undefined) return 0;
  const lines = new Set(b.split("\n"));
  return a.split("\n").filter((l) => lines.has(l)).length;
}

async function setRecordedHash(ctx: StepContext, instance: string, hash: string | undefined): Promise<void> {
  const container = ctx.resources("container").find((r) => r.id === instance);
  if (!container) return;
  const data = { ...container.data };
  if (hash === undefined) delete data[PAYLOAD_HASH_DATA_KEY];
  else data[PAYLOAD_HASH_DATA_KEY] = hash;
  await ctx.record({ ...container, data });
}

/** Polls the probe until healthy or the deadline; returns the last problem, undefined when healthy. */
export async function waitHealthy(
  p: InstancePayload,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let problem = await p.probe(signal);
  while (problem !== undefined && Date.now() < deadline) {
    await sleep(300, signal);
    problem = await p.probe(signal);
  }
  return problem;
}
