import type { DeploymentPlan } from "@labgate/core";
import { type PlanOutcome, type StepDescription, stepCall } from "@labgate/lxd-lab";

export function formatPlan(plan: DeploymentPlan): string {
  const lines = [
    `Plan for ${plan.name} on ${plan.platform}:`,
    ...networkLines(plan.network).map((l) => `  ${l}`),
    "",
  ];
  plan.calls.forEach((c, i) => {
    const where = c.kind === "command" ? (c.where === "host" ? "host$ " : "$ ") : `${c.action} `;
    lines.push(`  ${i + 1}. ${where}${c.target}`);
    lines.push(`     ${c.why}`);
    if (c.params) lines.push(`     ${JSON.stringify(c.params)}`);
  });
  return lines.join("\n");
}

export function networkLines(n: DeploymentPlan["network"]): string[] {
  if (n.mode === "dhcp") return ["network: DHCP"];
  if (n.mode === "fixed") return [`address: ${n.ip} (pinned by the platform, handed out by its DHCP)`];
  return [
    `address: ${n.ip}/${n.prefix} (netmask ${n.netmask}, from ${n.source})`,
    `gateway: ${n.gateway}`,
    `dns: ${n.dns.length > 0 ? n.dns.join(", ") : "(none)"}`,
  ];
}

/** A step of the deployment as shown: its description; a dry run adds what its check found. */
export type DeployStepView = StepDescription & Partial<Pick<PlanOutcome, "outcome" | "detail">>;

/**
 * `deploy plan` and `deploy apply|destroy --dry-run`: one view of the deployment's steps. Each planned
 * call is followed by the adapter's why for it (the step's calls are made from the same planned calls).
 */
export function formatSteps(
  steps: DeployStepView[],
  action: "plan" | "apply" | "destroy",
  plan?: DeploymentPlan,
): string {
  const why = new Map(plan?.calls.map((c) => [stepCall(c).display, c.why]) ?? []);
  const lines = plan
    ? [`Plan for ${plan.name} on ${plan.platform}:`, ...networkLines(plan.network).map((l) => `  ${l}`), ""]
    : [];
  if (steps.length === 0) return [...lines, `nothing to ${action === "plan" ? "do" : action}`].join("\n");
  lines.push(
    action === "plan"
      ? "Steps `labgate deploy apply` runs (nothing was changed):"
      : `Steps ${action === "destroy" ? "that would be undone " : ""}(nothing was changed):`,
  );
  steps.forEach((s, i) => {
    lines.push(
      `${i + 1}. ${s.id} — ${s.title}${s.outcome ? ` [${s.outcome}${s.detail ? `: ${s.detail}` : ""}]` : ""}`,
    );
    lines.push(`   ${s.why}`);
    for (const c of action === "destroy" ? (s.undoCalls ?? []) : s.calls) {
      lines.push(`   $ ${c.display}`);
      const reason = why.get(c.display);
      if (reason) lines.push(`     ${reason}`);
    }
  });
  return lines.join("\n");
}
