import { sleep } from "@labgate/core";
import type { LabStep, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { fetchHaproxyServerStatus } from "../../haproxy/stats-csv.js";
import { formatRoundRobinReport, type RoundRobinReport, verifyRoundRobin } from "../../verify/round-robin.js";
import { exposeUrl } from "./expose-step.js";
import type { LxdLabOptions } from "./lxd-lab-options.js";
import { type LxdClientFactory, recordedAddress } from "./lxd-runtime.js";
import { notRunning } from "./running-state.js";

export const LXD_VERIFY_STEP_ID = "verify-round-robin";

export function statsCsvUrl(ctx: StepContext, o: LxdLabOptions): string {
  return `http://${recordedAddress(ctx, o.lb.instance, LXD_VERIFY_STEP_ID).ip}:${o.statsPort}/stats;csv`;
}

/** Round robin through the proxy device, after HAProxy's health checks have caught up (bounded wait). */
export async function runLxdRoundRobin(
  ctx: StepContext,
  o: LxdLabOptions,
  overrides: { requests?: number; tolerancePct?: number } = {},
): Promise<RoundRobinReport> {
  const names = o.apps.map((a) => a.instance);
  const statsUrl = statsCsvUrl(ctx, o);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const servers = await fetchHaproxyServerStatus(statsUrl).catch(() => undefined);
    if (!servers || names.every((n) => servers.some((s) => s.server === n && /^UP/.test(s.status)))) break;
    await sleep(250, ctx.signal);
  }
  return verifyRoundRobin({
    url: exposeUrl(o),
    expectedBackends: names,
    ...(overrides.requests !== undefined ? { requests: overrides.requests } : {}),
    tolerancePct: overrides.tolerancePct ?? 10,
    statsUrl,
    signal: ctx.signal,
  });
}

/** Proves the lab end to end through the host's proxy device; changes nothing. */
export function roundRobinStep(o: LxdLabOptions, clientFor: LxdClientFactory): LabStep<undefined> {
  const names = o.apps.map((a) => a.instance);
  const requests = Math.max(20, 10 * names.length);
  return {
    description: {
      id: LXD_VERIFY_STEP_ID,
      readOnly: true,
      title: `Verify round robin through ${exposeUrl(o)}: ${requests} requests reach ${names.join(" and ")}`,
      why:
        "The lab is only useful if the load balancer really spreads traffic. This sends requests through the proxy " +
        "device into HAProxy, each on a new connection, and reads X-Served-By from every answer: all answers must " +
        "carry it, every app container must serve, and the split must be within 10 points of even.",
      calls: [
        {
          kind: "probe",
          display: `for i in $(seq ${requests}); do curl -s -o /dev/null -D - ${exposeUrl(o)} | grep -i x-served-by; done`,
        },
      ],
      diagnostics: ["labgate lab status", `lxc exec ${o.lb.instance} -- cat /etc/haproxy/haproxy.cfg`],
    },
    actions: {
      async check(ctx) {
        // LXD's state first: with a container stopped the answer is known, and requests through HAProxy
        // could wait on the stopped app for its connect timeout and retries before HAProxy marks it down.
        const down = await notRunning(clientFor(o), [o.lb.instance, ...names]);
        if (down.length) return { done: false, detail: `not probed: ${down.join(", ")}`, facts: undefined };
        // Every backend must serve; the split is judged only by the full run (verify): other traffic
        // through the LB at the same moment (users, `lab status`'s parallel probes) shifts a short rotation.
        const report = await runLxdRoundRobin(ctx, o, { requests: 2 * names.length, tolerancePct: 100 });
        return report.ok
          ? { done: true, detail: `round robin OK: ${report.sequence.join(" ")}`, facts: undefined }
          : { done: false, detail: report.problems.join("; "), facts: undefined };
      },
      async apply() {
        // Verification only: the checks happen in verify().
      },
      async verify(ctx) {
        const report = await runLxdRoundRobin(ctx, o, { requests });
        for (const line of formatRoundRobinReport(report)) ctx.log(line);
        if (!report.ok) {
          throw new StepFailedError(
            LXD_VERIFY_STEP_ID,
            `Round-robin check failed: ${report.problems.join("; ")}`,
            {
              hint: `See HAProxy's view: curl -s '${statsCsvUrl(ctx, o)}'`,
              details: { report },
            },
          );
        }
      },
      async undo() {
        // Nothing was created.
      },
    },
  };
}
