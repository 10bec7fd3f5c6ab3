import type { StepDescription } from "../../engine/plan-step.js";
import type { LabStep, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { fetchHaproxyServerStatus } from "../../haproxy/stats-csv.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { formatRoundRobinReport, type RoundRobinReport, verifyRoundRobin } from "../../verify/round-robin.js";
import { appStepId, healthUrl } from "./app-steps.js";
import { answers } from "./instance-process.js";
import { LB_STEP_ID } from "./lb-step.js";
import {
  forgetCheck,
  hasPassedCheck,
  labAddress,
  lbUrl,
  localApps,
  localOptions,
  recordPassedCheck,
  statsCsvUrl,
} from "./local-lab.js";
import { waitFor } from "./local-process.js";
import { appAddress } from "./netns-plan.js";
import { probe } from "./process-calls.js";

export const VERIFY_STEP_ID = "verify-round-robin";

/**
 * HAProxy marks a server UP only after its next health check (1 s), so an app that was just
 * (re)started can be healthy while HAProxy still says DOWN. Wait for HAProxy to catch up on those
 * (bounded); apps that really are down get no wait, so a broken lab is reported at once.
 */
async function waitForHaproxyToSeeHealthyApps(ctx: StepContext, timeoutMs = 5_000): Promise<void> {
  const address = labAddress(ctx);
  const apps = localApps(ctx.spec);
  await waitFor(
    async () => {
      const servers = await fetchHaproxyServerStatus(statsCsvUrl(address, ctx.spec)).catch(() => undefined);
      if (!servers) return true;
      for (const app of apps) {
        const seen = servers.find((s) => s.server === app.name);
        if (!seen || /^UP/.test(seen.status)) continue;
        if (await answers(healthUrl(appAddress(ctx.spec, app, address), app), app.name, ctx.signal))
          return false;
      }
      return true;
    },
    timeoutMs,
    ctx.signal,
    200,
  );
}

export async function runLocalRoundRobin(
  ctx: StepContext,
  overrides: { requests?: number; tolerancePct?: number } = {},
): Promise<RoundRobinReport> {
  const address = labAddress(ctx);
  const o = localOptions(ctx.spec);
  await waitForHaproxyToSeeHealthyApps(ctx);
  return verifyRoundRobin({
    url: lbUrl(address, ctx.spec),
    expectedBackends: localApps(ctx.spec).map((a) => a.name),
    requests: overrides.requests ?? o.verifyRequests,
    tolerancePct: overrides.tolerancePct ?? o.tolerancePct,
    statsUrl: statsCsvUrl(address, ctx.spec),
    signal: ctx.signal,
  });
}

/** Proves the LB spreads requests across every app; changes nothing. */
export function verifyRoundRobinStep(spec: LabSpec): LabStep<undefined> {
  const { bindAddress, verifyRequests, tolerancePct } = localOptions(spec);
  const names = localApps(spec).map((a) => a.name);
  const describe = (address: string): StepDescription => ({
    id: VERIFY_STEP_ID,
    readOnly: true,
    title: `Verify round robin: ${verifyRequests} requests through the LB reach ${names.join(" and ")}`,
    why:
      "The lab is only useful if the load balancer really spreads traffic. This sends requests through HAProxy, " +
      "each on a new connection, and reads X-Served-By from every answer: all answers must carry it, every app " +
      `must serve, and each app's share must be within ${tolerancePct} points of an even split.`,
    // verifyRoundRobin sends these requests in-process; shown as the shell loop that does the same.
    calls: [
      probe(
        `for i in $(seq ${verifyRequests}); do curl -s -o /dev/null -D - ${lbUrl(address, spec)} | grep -i x-served-by; done`,
      ),
    ],
    diagnostics: [`curl -s '${statsCsvUrl(address, spec)}' | cut -d, -f1,2,18,37`, "labgate lab status"],
    needs: [...localApps(spec).map(appStepId), LB_STEP_ID],
  });
  return {
    description: describe(bindAddress),
    // The requests go to the address the lab holds.
    current: (ctx) => describe(labAddress(ctx)),
    actions: {
      async check(ctx) {
        if (!hasPassedCheck(ctx, VERIFY_STEP_ID))
          return { done: false, detail: "not verified for this lab yet", facts: undefined };
        const report = await runLocalRoundRobin(ctx, quickRoundRobin(names.length));
        return report.ok
          ? { done: true, detail: `round robin OK: ${report.sequence.join(" ")}`, facts: undefined }
          : { done: false, detail: report.problems.join("; "), facts: undefined };
      },
      async apply(ctx) {
        const report = await runLocalRoundRobin(ctx);
        for (const line of formatRoundRobinReport(report)) ctx.log(line);
        throwIfFailed(ctx, report);
        await recordPassedCheck(
          ctx,
          VERIFY_STEP_ID,
          VERIFY_STEP_ID,
          `round robin OK: ${JSON.stringify(report.counts)}`,
        );
      },
      async verify(ctx) {
        throwIfFailed(ctx, await runLocalRoundRobin(ctx, quickRoundRobin(names.length)));
      },
      async undo(ctx) {
        await forgetCheck(ctx, VERIFY_STEP_ID);
      },
    },
  };
}

/**
 * Two requests per backend: enough to see every backend answer, quick on every re-run. The split is
 * not judged on so few: other traffic through the LB at the same moment (a user, `lab status`'s
 * parallel probes) shifts the rotation; the full verify (apply, `lab verify`) judges it.
 */
export function quickRoundRobin(backends: number): { requests: number; tolerancePct: number } {
  return { requests: 2 * backends, tolerancePct: 100 };
}

function throwIfFailed(ctx: StepContext, report: RoundRobinReport): void {
  if (report.ok) return;
  throw new StepFailedError(VERIFY_STEP_ID, `Round-robin check failed: ${report.problems.join("; ")}`, {
    hint: `See HAProxy's view: curl -s 'http://${labAddress(ctx)}:${ctx.spec.lb.statsPort}/stats;csv'`,
    details: { report },
  });
}
