import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { displayQuote, writeFileAtomic } from "@labgate/core";
import type { StepDescription } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { HaproxyConfigError, StepFailedError } from "../../errors.js";
import { detectHaproxy } from "../../haproxy/haproxy-binary.js";
import {
  configFileDrift,
  fetchHaproxyLiveView,
  haproxyLiveDrift,
  sha256,
} from "../../haproxy/live-config.js";
import {
  type HaproxyConfigOptions,
  haproxyOptionsFromSpec,
  renderHaproxyConfig,
} from "../../haproxy/render-config.js";
import { checkHaproxyConfigFile } from "../../haproxy/validate-config.js";
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
import { labAddress, lbUrl, localApps, localOptions, localPaths, statsCsvUrl } from "./local-lab.js";
import { appAddress } from "./netns-plan.js";
import { command, displayArgv, file, probe, STATE_PLACEHOLDER, startCall } from "./process-calls.js";
import { stopProcessCalls } from "./undo-calls.js";

export const LB_STEP_ID = "start-haproxy";

/** The config text for this lab; pure given the address and whether promex is built in. */
export function renderLocalHaproxyConfig(
  spec: LabSpec,
  address: string,
  prometheus: boolean,
  stateDir?: string,
): string {
  return renderHaproxyConfig(localHaproxyOptions(spec, address, prometheus, stateDir));
}

/**
 * The runtime API socket (drain/maint faults) in the lab's run dir; none when the state dir is so deep
 * that the path would not fit a unix socket address.
 */
export function localStatsSocket(stateDir: string): string | undefined {
  const path = join(localPaths.runDir(stateDir), "haproxy.sock");
  return /^\/[A-Za-z0-9._~/+-]{1,99}$/.test(path) ? path : undefined;
}

function localHaproxyOptions(
  spec: LabSpec,
  address: string,
  prometheus: boolean,
  stateDir?: string,
): HaproxyConfigOptions {
  const backends = localApps(spec).map((app) => ({
    name: app.name,
    address: appAddress(spec, app, address),
    port: app.port,
  }));
  const statsSocket = stateDir === undefined ? undefined : localStatsSocket(stateDir);
  return haproxyOptionsFromSpec(spec, backends, {
    bindAddress: address,
    prometheus,
    servedByHeader: "if-missing",
    ...(statsSocket ? { statsSocket } : {}),
  });
}

/** What check saw of the LB: its pid (if it runs) and how it drifted from what labgate started. */
export interface LbFacts {
  pid: number | undefined;
  drift: string[];
}

/**
 * The live LB against the desired one: our process, the config file on disk (by content) and what
 * the running HAProxy really does (its stats CSV: balance algorithm, servers, addresses). A reload
 * after a hand edit shows up here even when the file was put back afterwards.
 */
async function inspectLb(ctx: StepContext): Promise<LbFacts> {
  const p = lbProcess(ctx);
  const address = labAddress(ctx);
  const pid = await ownProcessAlive(ctx, p);
  if (pid === undefined) return { pid, drift: ["HAProxy is not running"] };
  const file = localPaths.haproxyConfig(ctx.stateDir);
  const recorded = processRecord(ctx, p.name)?.data;
  const prometheus = recorded?.["prometheus"] === true;
  const onDisk = await readFile(file, "utf8").catch(() => undefined);
  const drift = configFileDrift(
    file,
    onDisk,
    renderLocalHaproxyConfig(ctx.spec, address, prometheus, ctx.stateDir),
  );
  const live = await fetchHaproxyLiveView(statsCsvUrl(address, ctx.spec)).catch((error: Error) => error);
  if (live instanceof Error)
    drift.push(`HAProxy pid ${pid} runs but its stats do not answer (${live.message})`);
  else
    drift.push(...haproxyLiveDrift(live, localHaproxyOptions(ctx.spec, address, prometheus, ctx.stateDir)));
  return { pid, drift };
}

export function lbProcess(ctx: StepContext): ManagedProcess {
  return lbProcessFor(ctx.spec, labAddress(ctx), ctx.stateDir);
}

/** The HAProxy process of a lab on `address` whose state dir is `stateDir` (pure: the plan builds it too). */
function lbProcessFor(spec: LabSpec, address: string, stateDir: string): ManagedProcess {
  const config = localPaths.haproxyConfig(stateDir);
  const names = localApps(spec).map((a) => a.name);
  return {
    stepId: LB_STEP_ID,
    name: spec.lb.name,
    // -W -db: master-worker in the foreground of its own detached session, logging to the lab's log
    // file; `kill -USR2 <pid>` reloads the config as with a packaged HAProxy (`systemctl reload`).
    argv: [localOptions(spec).haproxy, "-W", "-db", "-f", config],
    markers: [config],
    ports: [spec.lb.port, spec.lb.statsPort],
    healthy: async (c) =>
      (await answers(lbUrl(address, spec), names, c.signal)) &&
      (await answers(`http://${address}:${spec.lb.statsPort}/stats`, undefined, c.signal)),
    extraData: { role: "lb", port: spec.lb.port, statsPort: spec.lb.statsPort, config },
  };
}

/** `haproxy -c -f <config>`: what apply runs on the rendered file before it starts HAProxy. */
function configCheckArgv(haproxy: string, config: string): string[] {
  return [haproxy, "-c", "-f", config];
}

/** Renders, validates (`haproxy -c`) and starts HAProxy in front of the apps. */
export function startLbStep(spec: LabSpec): LabStep<LbFacts> {
  const { bindAddress, haproxy } = localOptions(spec);
  const apps = localApps(spec);
  // The calls come from the process startManagedProcess spawns and the file apply writes.
  const describe = (address: string, ctx?: StepContext): StepDescription => {
    const lb = lbProcessFor(spec, address, STATE_PLACEHOLDER);
    const config = localPaths.haproxyConfig(STATE_PLACEHOLDER);
    return {
      id: LB_STEP_ID,
      title: `Start HAProxy on ${address}:${spec.lb.port} in front of ${apps.map((a) => a.name).join(", ")}`,
      why:
        "HAProxy is the load balancer: it takes requests on one port and hands them to the app instances in " +
        "turn (balance roundrobin). It checks each app's /health every second and stops sending traffic to an " +
        "app after 2 failed checks. Its config is rendered from the lab spec and checked with `haproxy -c` " +
        `before it starts; the stats page (and Prometheus metrics where built in) listen on port ${spec.lb.statsPort}.`,
      calls: [
        file(
          `write ${config}   # frontend :${spec.lb.port}, backend ${apps.map((a) => `${a.name} ${appAddress(spec, a, address)}:${a.port}`).join(", ")}`,
        ),
        command(displayArgv(configCheckArgv(haproxy, config), STATE_PLACEHOLDER)),
        startCall(lb.argv, STATE_PLACEHOLDER, lb.name, "reload: kill -USR2 <pid>"),
        probe(`curl -si ${lbUrl(address, spec)}   # expect 200 with X-Served-By`),
      ],
      undoCalls: [
        ...stopProcessCalls(lb.name, ctx && processRecord(ctx, lb.name)),
        file(`rm -f ${config} <state>/run/haproxy.sock`),
      ],
      diagnostics: [
        `${displayQuote(haproxy)} -c -f <state dir>/run/haproxy.cfg`,
        `tail -n 50 <state dir>/logs/${spec.lb.name}.log`,
        `curl -s 'http://${address}:${spec.lb.statsPort}/stats;csv'`,
      ],
      needs: [ADDRESS_STEP_ID],
    };
  };
  return {
    description: describe(bindAddress),
    current: (ctx) => describe(labAddress(ctx), ctx),
    actions: {
      async check(ctx) {
        const facts = await inspectLb(ctx);
        const { pid, drift } = facts;
        if (pid === undefined) return { done: false, detail: "HAProxy is not running", facts };
        if (drift.length) return { done: false, detail: `drift: ${drift.join("; ")}`, facts };
        const p = lbProcess(ctx);
        if (!(await p.healthy(ctx)))
          return { done: false, detail: `HAProxy pid ${pid} runs but the LB does not answer`, facts };
        return { done: true, detail: `HAProxy pid ${pid} serves ${lbUrl(labAddress(ctx), ctx.spec)}`, facts };
      },
      async apply(ctx, seen) {
        // What check saw (pid, drift) is reported and repaired: the LB is not inspected twice in one run.
        const found = seen.facts;
        if (found.pid !== undefined && found.drift.length) {
          // Say what was found before changing it: the user edited or reloaded something by hand.
          ctx.log(`${LB_STEP_ID}: drift found: ${found.drift.join("; ")}`);
        }
        const info = await detectHaproxy(localOptions(ctx.spec).haproxy);
        const text = renderLocalHaproxyConfig(ctx.spec, labAddress(ctx), info.prometheus, ctx.stateDir);
        const p = lbProcess(ctx);
        const config = localPaths.haproxyConfig(ctx.stateDir);
        await mkdir(localPaths.runDir(ctx.stateDir), { recursive: true, mode: 0o700 });
        await writeFileAtomic(config, text, { mode: 0o600 });
        const checked = await checkHaproxyConfigFile(config, info.bin);
        if (!checked.valid) {
          throw new HaproxyConfigError(
            `HAProxy ${info.version} rejected the rendered config ${config}:\n${checked.output}`,
            `Run \`${displayArgv(configCheckArgv(info.bin, config), "")}\` to see the error; report it with \`haproxy -vv\`.`,
            { file: config, output: checked.output },
          );
        }
        p.extraData = {
          ...p.extraData,
          configHash: sha256(text),
          haproxyVersion: info.version,
          prometheus: info.prometheus,
        };
        if ((await ownProcessAlive(ctx, p)) !== undefined) await stopManagedProcess(ctx, p);
        const pid = await startManagedProcess(ctx, p);
        if (found.pid !== undefined && found.drift.length) {
          ctx.log(
            `${LB_STEP_ID}: repaired: rewrote ${config} (sha256 ${sha256(text).slice(0, 12)}) and restarted HAProxy (pid ${found.pid} → ${pid})`,
          );
        }
      },
      async verify(ctx) {
        const url = lbUrl(labAddress(ctx), ctx.spec);
        if (
          !(await answers(
            url,
            apps.map((a) => a.name),
            ctx.signal,
          ))
        ) {
          throw new StepFailedError(
            LB_STEP_ID,
            `GET ${url} did not answer 200 with an X-Served-By of ${apps.map((a) => a.name).join("/")}.`,
            {
              hint: `curl -si ${url}; curl -s 'http://${labAddress(ctx)}:${ctx.spec.lb.statsPort}/stats;csv'`,
            },
          );
        }
      },
      async undo(ctx) {
        await stopManagedProcess(ctx, lbProcess(ctx));
        await rm(localPaths.haproxyConfig(ctx.stateDir), { force: true });
        // HAProxy normally unlinks its runtime socket on exit; a killed one leaves it behind.
        const socket = localStatsSocket(ctx.stateDir);
        if (socket) await rm(socket, { force: true });
      },
    },
  };
}
