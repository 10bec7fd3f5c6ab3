import { readFile } from "node:fs/promises";
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
import type { LabSpec } from "../../spec/lab-spec.js";
import { formatRoundRobinReport } from "../../verify/round-robin.js";
import { allocateAddressStep } from "./address-step.js";
import { appProcess, healthUrl, startAppStep } from "./app-steps.js";
import { answers, ownProcessAlive } from "./instance-process.js";
import { lbProcess, startLbStep } from "./lb-step.js";
import { labAddress, lbUrl, localApps, localOptions, localPaths } from "./local-lab.js";
import { inspectNetns, netnsDrift } from "./netns-link.js";
import { appAddress, labNetns } from "./netns-plan.js";
import { netnsStep, ownsNetns } from "./netns-step.js";
import { preflightStep } from "./preflight-step.js";
import { runLocalRoundRobin, VERIFY_STEP_ID, verifyRoundRobinStep } from "./verify-step.js";

/**
 * The embedded default: the whole lab on this machine, no infrastructure. App instances are
 * detached python3 processes, the LB is the real HAProxy; pid files and logs live in the lab's
 * state dir, so `lab down` (or any later CLI run) can find and stop them.
 */
export const localProvider: LabProvider = {
  name: "local",
  plan(spec: LabSpec): LabStep[] {
    // Each step declares what it needs: skipping the address warns about every start; the verify needs every process.
    return [
      preflightStep(spec),
      allocateAddressStep(spec),
      ...labNetns(spec).map((n) => netnsStep(spec, n)),
      ...localApps(spec).map((app) => startAppStep(spec, app)),
      startLbStep(spec),
      verifyRoundRobinStep(spec),
      ...(benchSettings(spec).enabled
        ? [benchStep(spec, lbUrl(localOptions(spec).bindAddress, spec), readLocalLbConfig)]
        : []),
    ];
  },
  async status(ctx: StepContext): Promise<ResourceHealth[]> {
    const health: ResourceHealth[] = [];
    const address = labAddress(ctx);
    for (const rec of ctx.resources("address")) {
      health.push({
        kind: "address",
        id: rec.id,
        health: "healthy",
        detail: `held by ${String(rec.data?.["owner"] ?? "?")}`,
      });
    }
    for (const rec of ctx.resources("check")) {
      // The round robin's verdict is the verify step's own live check, which lab status runs at the same
      // time: a second quick round robin here would interleave with it through the LB, and two clients
      // alternating on a round-robin LB each see one backend only.
      if (rec.id === VERIFY_STEP_ID) continue;
      health.push({
        kind: "check",
        id: rec.id,
        health: "healthy",
        detail: `passed at ${String(rec.data?.["passedAt"] ?? "?")}`,
      });
    }
    for (const n of labNetns(ctx.spec)) {
      const record = ctx.resources("netns").find((r) => r.id === n.netns);
      if (!record) continue;
      const live = await inspectNetns(n);
      const drift = ownsNetns(record, live)
        ? netnsDrift(n, live)
        : [`${n.netns} is not the namespace labgate made`];
      health.push({
        kind: "netns",
        id: n.netns,
        health: drift.length ? "unhealthy" : "healthy",
        detail: drift.length
          ? drift.join("; ")
          : `${n.vethHost} ${n.hostAddress}/30 ↔ ${n.vethApp} ${n.appAddress}/30, both up`,
      });
    }
    const apps = localApps(ctx.spec);
    const processes = [
      ...apps.map((app) => ({
        p: appProcess(ctx.spec, app, `start-${app.name}`, address),
        url: healthUrl(appAddress(ctx.spec, app, address), app),
      })),
      { p: lbProcess(ctx), url: lbUrl(address, ctx.spec) },
    ];
    for (const { p, url } of processes) {
      if (!ctx.resources("process").some((r) => r.id === p.name)) continue;
      const pid = await ownProcessAlive(ctx, p);
      if (pid === undefined) {
        health.push({ kind: "process", id: p.name, health: "unhealthy", detail: "not running" });
        continue;
      }
      const started = Date.now();
      const ok = await answers(
        url,
        p.name === ctx.spec.lb.name ? apps.map((a) => a.name) : p.name,
        ctx.signal,
      );
      health.push({
        kind: "process",
        id: p.name,
        health: ok ? "healthy" : "unhealthy",
        detail: `pid ${pid} alive, GET ${url} ${ok ? "OK" : "failed"} in ${Date.now() - started} ms`,
      });
    }
    health.push(...benchHealth(ctx));
    return health;
  },
  async verify(ctx: StepContext, options: LabVerifyOptions): Promise<LabVerifyResult> {
    const report = await runLocalRoundRobin(ctx, {
      ...(options.requests !== undefined ? { requests: options.requests } : {}),
      ...(options.tolerance !== undefined ? { tolerancePct: options.tolerance * 100 } : {}),
    });
    const counts = Object.entries(report.counts)
      .map(([name, n]) => `${name} ${n}`)
      .join(", ");
    const withHeader = report.requests - report.missingHeader;
    return {
      passed: report.ok,
      summary: report.ok
        ? `round robin OK: ${withHeader}/${report.requests} with X-Served-By, ${counts}`
        : `round robin FAILED: ${report.problems.join("; ")}`,
      lines: formatRoundRobinReport(report).slice(1),
      data: report,
    };
  },
  endpoint(spec: LabSpec) {
    return lbUrl(localOptions(spec).bindAddress, spec);
  },
  lbConfig: readLocalLbConfig,
};

/** The config file the lab's HAProxy was started from: what the lab fingerprint of a bench result hashes. */
function readLocalLbConfig(ctx: StepContext): Promise<string | null> {
  return readFile(localPaths.haproxyConfig(ctx.stateDir), "utf8").catch(() => null);
}
