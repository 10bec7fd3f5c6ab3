import { getLxdInstance } from "@labgate/core";
import { benchSettings } from "../../bench-step/bench-settings.js";
import { benchHealth, benchStep } from "../../bench-step/bench-step.js";
import type {
  LabProvider,
  LabStep,
  LabVerifyOptions,
  LabVerifyResult,
  ResourceHealth,
  StepContext,
} from "../../engine/step.js";
import { LB_INSTALLED_CONFIG_PATH } from "../../haproxy/lb-cloud-init.js";
import { HAPROXY_STATS_PATH } from "../../haproxy/render-config.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { formatRoundRobinReport } from "../../verify/round-robin.js";
import { addressStep } from "./address-step.js";
import { deployStep } from "./deploy-step.js";
import { exposeDevice, exposeStep, exposeUrl } from "./expose-step.js";
import { instanceAddress, instanceStep } from "./instance-step.js";
import {
  appLayout,
  appPayload,
  appUserData,
  lbLayout,
  lbPayload,
  lbUserData,
  probeHaproxyStats,
  probeServedBy,
} from "./lab-payloads.js";
import { EXPOSE_DEVICE, LAB_MARKER_KEY, lxdLabOptions } from "./lxd-lab-options.js";
import { lxdAddressRecord } from "./lxd-records.js";
import { defaultClientFactory, type LxdClientFactory } from "./lxd-runtime.js";
import { networkStep } from "./network-step.js";
import { preflightStep } from "./preflight-step.js";
import { roundRobinStep, runLxdRoundRobin } from "./round-robin-step.js";
import { checkRunningFirst, notRunning } from "./running-state.js";

export interface LxdProviderOptions {
  /** How to reach LXD; default: the unix socket from the spec / LXD_SOCKET / well-known paths. */
  clientFor?: LxdClientFactory;
}

/**
 * The lab in real LXD containers, through LXD's REST API on its unix socket: a bridge without DHCP,
 * static addresses from the core IP pool, app containers with the sentiment app, an LB container
 * with HAProxy, and a proxy device exposing the LB on the host.
 */
export function createLxdProvider(options: LxdProviderOptions = {}): LabProvider {
  const clientFor = options.clientFor ?? defaultClientFactory;
  // The config HAProxy reads inside the LB container: what the lab fingerprint of a bench result hashes.
  const lbConfig = async (ctx: StepContext): Promise<string | null> => {
    const o = lxdLabOptions(ctx.spec);
    const file = await clientFor(o)
      .readFile(o.lb.instance, LB_INSTALLED_CONFIG_PATH)
      .catch(() => undefined);
    return file?.toString("utf8") ?? null;
  };
  return {
    name: "lxd",
    lbConfig,
    plan(spec: LabSpec): LabStep[] {
      const o = lxdLabOptions(spec);
      const steps: LabStep[] = [preflightStep(o, clientFor), networkStep(o, clientFor), addressStep(o)];
      for (const app of o.apps) {
        steps.push(
          instanceStep({ o, plan: app, clientFor, userData: () => appUserData(app) }),
          deployStep({
            o,
            plan: app,
            clientFor,
            title: `Start the sentiment app in ${app.instance} on port ${app.port}`,
            why:
              `The app (python3 standard library, no install) is copied into ${app.instance} and started by its setup ` +
              "script, which also waits until GET /health answers. Every answer carries X-Served-By with the container's " +
              "name, so the load balancer's split is visible.",
            layout: appLayout(),
            payload: (ctx) => appPayload(ctx, app, `deploy-${app.name}`),
            probe: `GET http://<${app.instance} address>:${app.port}/health`,
            service: "app",
          }),
        );
      }
      steps.push(
        instanceStep({
          o,
          plan: o.lb,
          clientFor,
          userData: async (ctx) => lbUserData(ctx, o, `launch-${o.lb.name}`),
        }),
        deployStep({
          o,
          plan: o.lb,
          clientFor,
          title: `Start HAProxy in ${o.lb.instance} on port ${o.lb.port} (stats on ${o.statsPort})`,
          why:
            "HAProxy balances round robin over the app containers by their static addresses, health-checks GET /health " +
            "every second and serves its stats page. The config is rendered by labgate from the lab spec and checked " +
            "with `haproxy -c` inside the container before it is used.",
          layout: lbLayout(o),
          payload: (ctx) => lbPayload(ctx, o, `deploy-${o.lb.name}`),
          probe: `GET http://<${o.lb.instance} address>:${o.statsPort}/stats`,
          service: "HAProxy",
        }),
        exposeStep(o, clientFor),
        roundRobinStep(o, clientFor),
      );
      if (benchSettings(spec).enabled)
        steps.push(
          checkRunningFirst(benchStep(spec, exposeUrl(o), lbConfig), () => clientFor(o), [
            o.lb.instance,
            ...o.apps.map((a) => a.instance),
          ]),
        );
      return steps;
    },

    async status(ctx: StepContext): Promise<ResourceHealth[]> {
      const o = lxdLabOptions(ctx.spec);
      const client = clientFor(o);
      // Every resource is probed at once: a stopped container costs one short wait, not one per probe.
      const probes = ctx.resources().map(async (r): Promise<ResourceHealth[]> => {
        const health: ResourceHealth[] = [];
        if (r.kind === "network") {
          const network = await client.getNetwork(r.id);
          health.push({
            kind: r.kind,
            id: r.id,
            health: network?.config[LAB_MARKER_KEY] === o.lab ? "healthy" : "unhealthy",
            detail: network ? `${network.config["ipv4.address"]} (${network.status ?? "?"})` : "missing",
          });
        } else if (r.kind === "container") {
          const instance = await getLxdInstance(client, r.id);
          if (!instance) {
            health.push({ kind: r.kind, id: r.id, health: "unhealthy", detail: "missing" });
            return health;
          }
          const live = await instanceAddress(client, r.id);
          const plan = [...o.apps, o.lb].find((p) => p.instance === r.id);
          const ip = live.ips[0];
          // A stopped container is reported from LXD's state, without a request that would only time out.
          // The LB is asked only about itself (its stats page) while a backend is down: a request through
          // it could be sent to the stopped app and wait for HAProxy's connect timeout and retries.
          const backendsDown =
            plan?.role === "lb"
              ? await notRunning(
                  client,
                  o.apps.map((a) => a.instance),
                )
              : [];
          const problem =
            live.status !== "Running" || !ip || !plan
              ? `${live.status}`
              : backendsDown.length
                ? await probeHaproxyStats(`http://${ip}:${o.statsPort}${HAPROXY_STATS_PATH}`, ctx.signal)
                : await probeServedBy(
                    `http://${ip}:${plan.port}/health`,
                    plan.role === "lb" ? o.apps.map((a) => a.instance) : [plan.instance],
                    ctx.signal,
                  );
          const answered = backendsDown.length
            ? `, HAProxy stats answer (not probed through: ${backendsDown.join(", ")})`
            : `, port ${plan?.port} answers`;
          health.push({
            kind: r.kind,
            id: r.id,
            health: problem ? "unhealthy" : "healthy",
            detail: `${live.status} ${live.ips.join(", ") || "no IPv4"}${problem ? `: ${problem}` : answered}`,
          });
        } else if (r.kind === "proxy-device") {
          const instance = await getLxdInstance(client, o.lb.instance);
          const device = instance?.devices[EXPOSE_DEVICE];
          const want = exposeDevice(o);
          health.push({
            kind: r.kind,
            id: r.id,
            health: device?.listen === want.listen ? "healthy" : "unhealthy",
            detail: device ? `${device.listen} → ${device.connect}` : "missing",
          });
        } else if (r.kind === "address") {
          health.push({ kind: r.kind, id: r.id, health: "healthy", detail: lxdAddressRecord(r).ip });
        }
        return health;
      });
      return [...(await Promise.all(probes)).flat(), ...benchHealth(ctx)];
    },

    async verify(ctx: StepContext, options: LabVerifyOptions): Promise<LabVerifyResult> {
      const o = lxdLabOptions(ctx.spec);
      const report = await runLxdRoundRobin(ctx, o, {
        ...(options.requests !== undefined ? { requests: options.requests } : {}),
        ...(options.tolerance !== undefined ? { tolerancePct: options.tolerance * 100 } : {}),
      });
      const counts = Object.entries(report.counts)
        .map(([name, n]) => `${name} ${n}`)
        .join(", ");
      return {
        passed: report.ok,
        summary: report.ok
          ? `round robin OK through ${report.url}: ${report.requests - report.missingHeader}/${report.requests} with X-Served-By, ${counts}`
          : `round robin FAILED through ${report.url}: ${report.problems.join("; ")}`,
        lines: formatRoundRobinReport(report).slice(1),
        data: report,
      };
    },

    endpoint(spec: LabSpec): string {
      return exposeUrl(lxdLabOptions(spec));
    },
  };
}

export const lxdProvider: LabProvider = createLxdProvider();
