import type { StepContext } from "../../engine/step.js";
import {
  buildLbCloudInit,
  LB_CONFIG_STAGING_PATH,
  LB_FALLBACK_CONFIG_PATH,
  LB_INSTALLED_CONFIG_PATH,
  LB_SETUP_SCRIPT_PATH,
  LB_STATS_SOCKET,
  renderLbSetupScript,
} from "../../haproxy/lb-cloud-init.js";
import { fetchHaproxyLiveView, haproxyLiveDrift } from "../../haproxy/live-config.js";
import {
  HAPROXY_STATS_PATH,
  type HaproxyConfigOptions,
  haproxyOptionsFromSpec,
  renderHaproxyConfig,
} from "../../haproxy/render-config.js";
import {
  APP_INSTALL_DIR,
  APP_SERVICE_NAME,
  buildAppCloudInit,
  renderAppSetupScript,
} from "../../payload/app-cloud-init.js";
import { readSentimentAppFiles, SENTIMENT_APP_FILES } from "../../payload/sentiment-app.js";
import { headerValue, httpProbe } from "../../verify/http-probe.js";
import type { InstancePayload } from "./deploy-step.js";
import type { LxdInstancePlan, LxdLabOptions } from "./lxd-lab-options.js";
import { recordedAddress } from "./lxd-runtime.js";
import type { PayloadLayout } from "./payload-push.js";

export const APP_SETUP_SCRIPT = "/usr/local/sbin/labgate-app-setup.sh";

/** Where the app's payload goes in its container: the app files, then its setup script (run now and at boot). */
export function appLayout(): PayloadLayout {
  return {
    files: [
      ...SENTIMENT_APP_FILES.map((name) => ({ path: `${APP_INSTALL_DIR}/${name}` })),
      { path: APP_SETUP_SCRIPT, note: "starts the app and waits for GET /health" },
    ],
    startScript: APP_SETUP_SCRIPT,
    bootHook: "50-app.sh",
    stopCommand: [
      "sh",
      "-c",
      `pkill -F /run/${APP_SERVICE_NAME}.pid; rm -f /run/${APP_SERVICE_NAME}.pid; true`,
    ],
  };
}

/** The sentiment app in one container, started by the payload's own setup script. */
export async function appPayload(
  ctx: StepContext,
  plan: LxdInstancePlan,
  stepId: string,
): Promise<InstancePayload> {
  const ip = recordedAddress(ctx, plan.instance, stepId).ip;
  const files = await readSentimentAppFiles();
  const script = renderAppSetupScript({
    name: plan.instance,
    port: plan.port,
    host: "0.0.0.0",
    installDir: APP_INSTALL_DIR,
  });
  return {
    ...appLayout(),
    files: [
      ...files.map((f) => ({ path: `${APP_INSTALL_DIR}/${f.name}`, content: f.content })),
      { path: APP_SETUP_SCRIPT, content: script, mode: 0o755 },
    ],
    probe: (signal) => probeServedBy(`http://${ip}:${plan.port}/health`, [plan.instance], signal),
  };
}

export async function appUserData(plan: LxdInstancePlan): Promise<string> {
  return buildAppCloudInit({ name: plan.instance, port: plan.port, files: await readSentimentAppFiles() });
}

/** HAProxy options for the LB container: the apps by instance name and static address. */
export function lbHaproxyOptions(ctx: StepContext, o: LxdLabOptions, stepId: string): HaproxyConfigOptions {
  const backends = o.apps.map((app) => ({
    name: app.instance,
    address: recordedAddress(ctx, app.instance, stepId).ip,
    port: app.port,
  }));
  return haproxyOptionsFromSpec(ctx.spec, backends, { bindAddress: "0.0.0.0", statsSocket: LB_STATS_SOCKET });
}

/** Where the LB's payload goes: the rendered config, its fallback without the Prometheus exporter, the setup script. */
export function lbLayout(o: LxdLabOptions): PayloadLayout {
  return {
    files: [
      {
        path: LB_CONFIG_STAGING_PATH,
        note: `rendered: ${o.apps.map((a) => `server ${a.instance} <address>:${a.port} check`).join(", ")}`,
      },
      { path: LB_FALLBACK_CONFIG_PATH, note: "the same without the Prometheus exporter" },
      { path: LB_SETUP_SCRIPT_PATH, note: "haproxy -c, then start" },
    ],
    startScript: LB_SETUP_SCRIPT_PATH,
    bootHook: "60-haproxy.sh",
    stopCommand: [
      "sh",
      "-c",
      "[ -f /run/haproxy.pid ] && kill $(cat /run/haproxy.pid); rm -f /run/haproxy.pid; true",
    ],
  };
}

/** HAProxy in the LB container with the config the lab engine renders, checked by `haproxy -c` before use. */
export async function lbPayload(
  ctx: StepContext,
  o: LxdLabOptions,
  stepId: string,
): Promise<InstancePayload> {
  const options = lbHaproxyOptions(ctx, o, stepId);
  const ip = recordedAddress(ctx, o.lb.instance, stepId).ip;
  return {
    ...lbLayout(o),
    files: [
      { path: LB_CONFIG_STAGING_PATH, content: renderHaproxyConfig({ ...options, prometheus: true }) },
      { path: LB_FALLBACK_CONFIG_PATH, content: renderHaproxyConfig({ ...options, prometheus: false }) },
      { path: LB_SETUP_SCRIPT_PATH, content: renderLbSetupScript(options.port), mode: 0o755 },
    ],
    // The setup script installs the staged config (or its fallback) as the one HAProxy reads.
    installed: [{ path: LB_INSTALLED_CONFIG_PATH, from: [LB_CONFIG_STAGING_PATH, LB_FALLBACK_CONFIG_PATH] }],
    async liveDrift(signal) {
      signal.throwIfAborted();
      // Stats that do not answer are the probe's to report; here only a live, different LB is drift.
      const live = await fetchHaproxyLiveView(`http://${ip}:${o.statsPort}${HAPROXY_STATS_PATH};csv`).catch(
        () => undefined,
      );
      return live ? haproxyLiveDrift(live, options) : [];
    },
    through: o.apps.map((a) => a.instance),
    probeLocal: (signal) => probeHaproxyStats(`http://${ip}:${o.statsPort}${HAPROXY_STATS_PATH}`, signal),
    async probe(signal) {
      const stats = await probeHaproxyStats(`http://${ip}:${o.statsPort}${HAPROXY_STATS_PATH}`, signal);
      if (stats) return stats;
      return probeServedBy(
        `http://${ip}:${o.lb.port}/health`,
        o.apps.map((a) => a.instance),
        signal,
      );
    },
  };
}

/**
 * How long one health request may take. The probed service is a container on the host's own bridge,
 * so a running one answers in milliseconds; a stopped one is caught by LXD's state before any request.
 */
export const PROBE_TIMEOUT_MS = 2_000;

/** GET of HAProxy's stats page, which HAProxy answers itself: undefined when it answers 200. */
export async function probeHaproxyStats(url: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    const stats = await httpProbe(url, { timeoutMs: PROBE_TIMEOUT_MS, signal });
    return stats.status === 200 ? undefined : `HAProxy stats answered HTTP ${stats.status}`;
  } catch (error) {
    if (signal.aborted) throw error;
    return `HAProxy stats at ${url} do not answer (${(error as Error).message})`;
  }
}

export function lbUserData(ctx: StepContext, o: LxdLabOptions, stepId: string): string {
  return buildLbCloudInit(lbHaproxyOptions(ctx, o, stepId));
}

/** GET url → 200 with X-Served-By naming one of `expected`; undefined when so, else what was seen. */
export async function probeServedBy(
  url: string,
  expected: string[],
  signal: AbortSignal,
): Promise<string | undefined> {
  try {
    const res = await httpProbe(url, { timeoutMs: PROBE_TIMEOUT_MS, signal });
    const servedBy = headerValue(res, "X-Served-By");
    if (res.status !== 200) return `GET ${url} answered HTTP ${res.status}`;
    if (!servedBy || !expected.includes(servedBy))
      return `GET ${url} answered without X-Served-By of ${expected.join("/")} (got ${servedBy ?? "none"})`;
    return undefined;
  } catch (error) {
    if (signal.aborted) throw error;
    return `GET ${url} failed: ${(error as Error).message}`;
  }
}
