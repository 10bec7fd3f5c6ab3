import type { DeploymentPlan } from "@labgate/core";
import type { PlanOutcome, StepDescription } from "@labgate/lxd-lab";

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

/** One step of a --dry-run: its description with what its check found. */
export type DryRunStep = StepDescription & Pick<PlanOutcome, "outcome" | "detail">;

export function formatDryRun(steps: DryRunStep[], action: "apply" | "destroy"): string {
  if (steps.length === 0) return `nothing to ${action}`;
  const lines: string[] = [];
  steps.forEach((s, i) => {
    lines.push(`${i + 1}. ${s.id} — ${s.title} [${s.outcome}${s.detail ? `: ${s.detail}` : ""}]`);
    lines.push(`   ${s.why}`);
    for (const c of action === "destroy" ? (s.undoCalls ?? []) : s.calls) lines.push(`   $ ${c.display}`);
  });
  return lines.join("\n");
}
