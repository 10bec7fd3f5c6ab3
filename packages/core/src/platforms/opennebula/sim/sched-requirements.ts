/**
 * The part of the scheduler's requirement expressions a lab uses (src/scheduler/src/pool/HostXML.cc evaluates
 * SCHED_REQUIREMENTS against the host's attributes; `*` is a shell-style wildcard, src/common/Expression.*):
 * `ATTR = "value"` / `ATTR != "value"` terms joined by `&` or `|`, for HYPERVISOR, NAME, HOSTNAME, ID, CLUSTER_ID.
 * Anything else is refused, as oned refuses an expression it cannot parse.
 */
export interface SchedHost {
  id: number;
  name: string;
  vmMad: string;
  clusterId: number;
}

export class SchedExpressionError extends Error {}

function attr(host: SchedHost, name: string): string {
  switch (name) {
    case "HYPERVISOR":
      return host.vmMad;
    case "NAME":
    case "HOSTNAME":
      return host.name;
    case "ID":
      return String(host.id);
    case "CLUSTER_ID":
      return String(host.clusterId);
    default:
      throw new SchedExpressionError(`unknown attribute ${name}`);
  }
}

function glob(value: string, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(value);
}

export function matchesRequirements(host: SchedHost, expression: string): boolean {
  const text = expression.trim();
  if (!text) return true;
  const orTerms = text.split("|");
  return orTerms.some((orTerm) =>
    orTerm.split("&").every((term) => {
      const m = /^\s*\(?\s*([A-Z_]+)\s*(!?=)\s*"?([^"]*?)"?\s*\)?\s*$/.exec(term);
      if (!m) throw new SchedExpressionError(`cannot parse "${term.trim()}"`);
      const equal = glob(attr(host, m[1]!), m[3]!);
      return m[2] === "=" ? equal : !equal;
    }),
  );
}
