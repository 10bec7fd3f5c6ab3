import { defaultLabSpec } from "../../../spec/default-lab-spec.js";
import type { LabSpec } from "../../../spec/lab-spec.js";

/** The default local lab on the given ports (app1, app2, the LB, its stats page), with its provider options and bench. */
export function localSpecOnPorts(
  name: string,
  [a, b, lb, stats]: number[],
  more: { providerOptions?: LabSpec["providerOptions"]; bench?: LabSpec["bench"] },
): LabSpec {
  const spec = defaultLabSpec();
  return {
    ...spec,
    name,
    apps: { ...spec.apps, ports: [a!, b!] },
    lb: { ...spec.lb, port: lb!, statsPort: stats! },
    ...more,
  };
}
