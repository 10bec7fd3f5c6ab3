import { redactValue } from "@labgate/core";
import type { LabSpec } from "./lab-spec.js";

/**
 * The spec as state.json keeps it: secrets redacted, except the lab's identity. The name and the
 * provider are validated identifiers, never secrets; a password that happens to be the same word
 * (a lab session "oneadmin:opennebula") would otherwise turn `provider` into "***", and `lab down`
 * could no longer find the provider that built the lab.
 */
export function recordedSpec(spec: LabSpec): LabSpec {
  return { ...redactValue(spec), name: spec.name, provider: spec.provider };
}
