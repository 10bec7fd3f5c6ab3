import type { PlatformAdapter } from "../adapters/types.js";
import type { Finding } from "./findings.js";
import { checkDeployRules } from "./rules.js";
import type { DeploySpec } from "./spec.js";

const ORDER = { error: 0, warning: 1, info: 2 } as const;

/** The shared rules plus the adapter's own checks, errors first. */
export function checkDeployment(spec: DeploySpec, adapter: PlatformAdapter): Finding[] {
  const findings = [...checkDeployRules(spec, adapter.name, adapter.capabilities), ...adapter.validate(spec)];
  return findings.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
}
