/** How bad a finding is: errors stop a deployment, warnings are shown and let it go on. */
export type FindingSeverity = "error" | "warning" | "info";

/**
 * One result of checking a deployment spec: a stable `code` for scripts and tests, what is wrong,
 * and the fix. `field` names the spec path it is about ("network.gateway").
 */
export interface Finding {
  code: string;
  severity: FindingSeverity;
  message: string;
  fix: string;
  field?: string;
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === "error");
}

export function formatFinding(f: Finding): string {
  const where = f.field ? ` (${f.field})` : "";
  return `${f.severity.toUpperCase()} ${f.code}${where}: ${f.message}\n    fix: ${f.fix}`;
}
