import type { StepCall, StepDescription } from "../../engine/plan-step.js";
import type { LabStep, LabVerifyResult, StepContext } from "../../engine/step.js";
import { StepFailedError } from "../../errors.js";
import { defaultVerify, type OneLabRuntime, type VerifyTarget } from "./one-lab-runtime.js";

/** Where round robin is checked: the exposed address when there is one, else the LB's own address. */
export function verifyTarget(rt: OneLabRuntime, ctx: StepContext): VerifyTarget {
  const o = rt.options;
  const lbIp = rt.addresses(ctx).get(o.lb.name)?.ip;
  const url = o.expose
    ? `http://${o.expose.address}:${o.expose.port}/`
    : `http://${lbIp ?? "LB"}:${o.lb.port}/`;
  return { url, expectedBackends: o.apps.map((a) => a.name) };
}

export async function runVerify(
  rt: OneLabRuntime,
  ctx: StepContext,
  requests?: number,
): Promise<LabVerifyResult> {
  const target = { ...verifyTarget(rt, ctx), ...(requests ? { requests } : {}) };
  return (rt.deps.verify ?? defaultVerify)(target, ctx);
}

/** The probe as shown: the URL runVerify sends to once it is known (exposure, or the LB's recorded address). */
function verifyCall(url = "http://LB/"): StepCall {
  return { display: `GET ${url} ×20, counting X-Served-By`, kind: "probe" };
}

export function verifyStep(rt: OneLabRuntime): LabStep<undefined> {
  const description: StepDescription = {
    id: "one-verify",
    readOnly: true,
    title: "Verify round robin through the load balancer",
    why: "Sends requests through the load balancer and checks that every answer carries X-Served-By, that every app instance served, and that the split is even: the proof that HAProxy, the apps and the network all work together.",
    calls: [verifyCall()],
  };
  return {
    description,
    current: (ctx) => {
      const known = rt.options.expose || rt.addresses(ctx).has(rt.options.lb.name);
      return known ? { ...description, calls: [verifyCall(verifyTarget(rt, ctx).url)] } : description;
    },
    actions: {
      async check(ctx) {
        // Read-only, so it runs every time: a lab that verified yesterday may be broken today.
        const result = await runVerify(rt, ctx).catch(() => undefined);
        return result?.passed
          ? { done: true, detail: result.summary, facts: undefined }
          : { done: false, facts: undefined };
      },
      async apply(ctx) {
        const result = await runVerify(rt, ctx);
        for (const line of result.lines ?? []) ctx.log(`  ${line}`);
        if (!result.passed) {
          throw new StepFailedError("one-verify", result.summary, {
            hint: "Check the apps (`onevm show`, `curl http://APP:PORT/health` from the host) and HAProxy's stats page.",
          });
        }
      },
      async verify(ctx) {
        const result = await runVerify(rt, ctx);
        if (!result.passed) throw new StepFailedError("one-verify", result.summary);
      },
      async undo() {},
    },
  };
}
