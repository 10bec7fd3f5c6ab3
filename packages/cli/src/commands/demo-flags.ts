import { resolve } from "node:path";
import { parseDuration } from "@labgate/bench";
import { InvalidInputError } from "@labgate/core";
import { BENCH_LIMITS, type LabSpec } from "@labgate/lxd-lab";

export interface DemoFlags {
  spec?: string;
  stateDir?: string;
  yes?: boolean;
  keep?: boolean;
  json?: boolean;
  duration?: string;
  connections?: string;
  out?: string;
}

/** The spec with --duration / --connections applied to its bench settings (validated like the spec's). */
export function withDemoBench(spec: LabSpec, flags: DemoFlags): LabSpec {
  const bench = { ...spec.bench, enabled: true };
  if (flags.duration !== undefined) {
    const ms = parseDuration(flags.duration, "--duration");
    if (ms < BENCH_LIMITS.minDurationMs || ms > BENCH_LIMITS.maxDurationMs) {
      throw new InvalidInputError("INVALID_FLAG", `--duration "${flags.duration}" is outside 1s to 10m.`, {
        hint: "The demo's benchmark is a short check; pass e.g. --duration 10s.",
      });
    }
    bench.durationMs = ms;
  }
  if (flags.connections !== undefined) {
    const connections = Number(flags.connections);
    if (!Number.isInteger(connections) || connections < 1 || connections > BENCH_LIMITS.maxConnections) {
      throw new InvalidInputError(
        "INVALID_FLAG",
        `--connections "${flags.connections}" is not a whole number from 1 to ${BENCH_LIMITS.maxConnections}.`,
        { hint: "Pass e.g. --connections 10." },
      );
    }
    bench.connections = connections;
  }
  return { ...spec, bench };
}

/** --out, else .labgate/reports/<lab>-<time> (both under cwd). */
export function demoReportDir(flags: DemoFlags, cwd: string, lab: string): string {
  return resolve(cwd, flags.out ?? `.labgate/reports/${lab}-${timestamp()}`);
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
}
