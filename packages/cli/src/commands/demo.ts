import { copyFile, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseDuration, parseSlos } from "@labgate/bench";
import { ExitCode, InvalidInputError, isLabgateError, redact } from "@labgate/core";
import {
  autoYesGate,
  BENCH_LIMITS,
  BENCH_REQUEST,
  BENCH_STEP_ID,
  benchSettings,
  benchUrl,
  describeLoad,
  type LabBenchRecord,
  type LabProvider,
  type LabRunResult,
  type LabSpec,
  type LabVerifyResult,
  labDown,
  labEndpoint,
  labUp,
  labVerify,
  loadLabBench,
  providerStepId,
} from "@labgate/lxd-lab";
import type { Command } from "commander";
import { createOutput } from "../output.js";
import { removeEmptyParents } from "./lab.js";
import { type LabIo, makeGate, processIo, resolveLab, withInterrupt } from "./lab-context.js";
import { formatRun, formatVerify } from "./lab-format.js";

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

/** What the demo benchmarks: the lab's final bench step sends it (one sentiment prediction through the LB). */
export const DEMO_REQUEST = BENCH_REQUEST;

export interface DemoResult {
  lab: string;
  up: LabRunResult | null;
  verify: LabVerifyResult | null;
  bench: {
    available: true;
    url: string;
    /** The request every benchmark request sent (the body by size; it is DEMO_REQUEST.body). */
    request: { method: string; bodyBytes: number; contentType: string };
    /** HTTP status codes of the measured responses: anything but 200 means the numbers are not the model's. */
    statusCodes: Record<string, number>;
    slos: string[];
    slosPassed: boolean | null;
    /** Why the load generator's numbers may describe itself rather than the lab; absent when trustworthy. */
    untrustworthy?: string[];
    aborted: boolean;
    reports: { dir: string; resultJson: string; reportMd: string; reportHtml: string };
  } | null;
  down: LabRunResult | null;
  kept: boolean;
  /** What stopped the demo early, if anything. */
  error?: { code: string; message: string };
}

/** `labgate demo`: the main job in one command. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "The main job in one command: build the lab (default: local, two apps behind HAProxy), verify round robin, " +
        "run the lab's final bench step (POST /predict, one sentiment prediction per request, through the load balancer " +
        "against the spec's SLOs), copy its report out, then tear the lab down (also on failure or Ctrl-C).",
    )
    .option("-y, --yes", "answer yes at every confirmation gate of `lab up`")
    .option("--keep", "leave the lab up at the end (tear it down later with `labgate lab down`)")
    .option(
      "--spec <file>",
      "lab spec (JSON or YAML); default lab.json / lab.yaml here, else the built-in local lab",
    )
    .option("--state-dir <dir>", "where the lab's state lives (default .labgate/labs/<name>)")
    .option("-d, --duration <time>", "benchmark duration (default: the spec's bench.duration, else 5s)")
    .option("-c, --connections <n>", "benchmark connections (default: the spec's bench.connections, else 10)")
    .option("--out <dir>", "report directory (default .labgate/reports/<lab>-<time>)")
    .option("--json", "print the demo result as JSON on stdout")
    .action(async (flags: DemoFlags) => {
      process.exitCode = await demoCommand(flags);
    });
}

export async function demoCommand(flags: DemoFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const resolved = await resolveLab(flags, io, false);
  // Bad input fails before anything is built.
  parseSlos(resolved.spec.slos);
  const spec = withDemoBench(resolved.spec, flags);
  const target = { ...resolved, spec };
  const settings = benchSettings(spec);
  const reportDir = resolve(io.cwd, flags.out ?? `.labgate/reports/${spec.name}-${timestamp()}`);
  const log = (l: string) => out.info(l);
  const result: DemoResult = {
    lab: spec.name,
    up: null,
    verify: null,
    bench: null,
    down: null,
    kept: Boolean(flags.keep),
  };
  out.info(
    `labgate demo: build lab "${spec.name}" (provider ${target.provider.name}), verify round robin, benchmark for ${describeLoad(settings)} against ${
      spec.slos.join(", ") || "no SLOs"
    }, write the report, then ${flags.keep ? "leave the lab up (--keep)" : "tear the lab down"}.`,
  );

  const gate = makeGate(flags.yes, io);
  let failure: unknown;
  let exit: number = ExitCode.OK;
  try {
    await withInterrupt(io, async (signal) => {
      out.info("\n== 1/4 lab up");
      result.up = await labUp({ ...target, provider: withoutBench(target.provider), gate, signal, log });
      out.info(formatRun(result.up));

      out.info("\n== 2/4 verify round robin through the load balancer");
      result.verify = await labVerify({ ...target, signal, log });
      out.info(formatVerify(result.verify));
      if (!result.verify.passed) {
        exit = ExitCode.CHECK_FAILED;
        out.warn(
          "verification failed: the benchmark is skipped because its numbers would not mean what they say.",
        );
        return;
      }

      const url = benchUrl(labEndpoint(target.provider, spec));
      const bodyBytes = Buffer.byteLength(DEMO_REQUEST.body);
      out.info(
        `\n== 3/4 benchmark ${DEMO_REQUEST.method} ${url} (${describeLoad(settings)}, SLOs: ${spec.slos.join(", ") || "none"}): the lab's bench step\n` +
          `   every request: ${DEMO_REQUEST.method} ${new URL(url).pathname}, Content-Type: ${DEMO_REQUEST.contentType}, ${bodyBytes}-byte body:\n` +
          `   ${DEMO_REQUEST.body}\n` +
          "   (the app's real work: each request runs the sentiment model; a 4xx/5xx answer counts as an error)",
      );
      try {
        await labUp({ ...target, gate, signal, log, step: BENCH_STEP_ID });
      } catch (error) {
        // A missed SLO is the demo's answer, not its failure: report it and exit 1.
        if (!missedSlos(error)) throw error;
        exit = ExitCode.CHECK_FAILED;
      } finally {
        const last = await loadLabBench(target.stateDir, spec.name, target.provider.name).catch(
          () => undefined,
        );
        if (last?.status === "done") result.bench = await keepReport(last, reportDir, out);
      }
      if (result.bench?.aborted) exit = ExitCode.INTERRUPTED;
      else if (result.bench?.slosPassed === false) exit = ExitCode.CHECK_FAILED;
    });
  } catch (error) {
    failure = error;
    result.error = isLabgateError(error)
      ? { code: error.code, message: redact(error.message) }
      : { code: "INTERNAL", message: redact(error instanceof Error ? error.message : String(error)) };
  } finally {
    gate.close();
  }

  if (!flags.keep) {
    // Teardown was announced up front and is part of the demo: it runs without asking, even after a failure or Ctrl-C.
    out.info("\n== teardown: lab down");
    try {
      result.down = await withInterrupt(
        io.signal ? { ...io, signal: new AbortController().signal } : io,
        (signal) => labDown({ ...target, gate: autoYesGate(), signal, log }),
      );
      if (result.down.stateRemoved && flags.stateDir === undefined) await removeEmptyParents(io.cwd);
      out.info(formatRun(result.down));
    } catch (error) {
      out.warn(
        `lab down failed: ${error instanceof Error ? error.message : String(error)}. Run \`labgate lab down --yes\` to finish it.`,
      );
      failure ??= error;
    }
  } else {
    out.info(
      `\nThe lab is left up (--keep): \`labgate lab status\`, \`labgate lab verify\`, and \`labgate lab down\` when done.`,
    );
  }

  if (failure !== undefined) {
    // With --json, stdout still carries exactly one document: the demo result with its error.
    if (!flags.json) throw failure;
    out.result(result, () => "");
    out.info(`error: ${result.error?.message ?? "demo failed"}`);
    return isLabgateError(failure) ? failure.exitCode : ExitCode.EXTERNAL;
  }
  out.result(result, (r) =>
    r.bench?.available
      ? `report: ${r.bench.reports.reportHtml}\nSLOs: ${r.bench.slosPassed === false ? "FAILED" : "passed"}${r.bench.untrustworthy ? ` (the load generator was not trustworthy: ${r.bench.untrustworthy.join("; ")}; measure again on a quieter machine)` : ""}`
      : "no benchmark ran",
  );
  return exit;
}

/** The spec with --duration / --connections applied to its bench settings (validated like the spec's). */
function withDemoBench(spec: LabSpec, flags: DemoFlags): LabSpec {
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

/** The provider without its bench step: the demo builds and verifies first, then runs the bench on its own. */
function withoutBench(provider: LabProvider): LabProvider {
  return {
    ...provider,
    plan: (spec) => provider.plan(spec).filter((s) => providerStepId(s) !== BENCH_STEP_ID),
  };
}

function missedSlos(error: unknown): boolean {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return isLabgateError(cause) && cause.code === "LAB_SLOS_NOT_MET";
}

/**
 * The bench step keeps its report in the lab's state dir, which teardown removes: the demo copies
 * it out to --out (default .labgate/reports/<lab>-<time>) and prints where.
 */
async function keepReport(
  last: LabBenchRecord,
  dir: string,
  out: ReturnType<typeof createOutput>,
): Promise<NonNullable<DemoResult["bench"]>> {
  const from = last.reports ?? { resultJson: "", reportMd: "", reportHtml: "" };
  const reports = {
    dir,
    resultJson: join(dir, "result.json"),
    reportMd: join(dir, "report.md"),
    reportHtml: join(dir, "report.html"),
  };
  await mkdir(dir, { recursive: true });
  await copyFile(from.resultJson, reports.resultJson);
  await copyFile(from.reportMd, reports.reportMd);
  await copyFile(from.reportHtml, reports.reportHtml);
  const statusCodes = last.summary?.statusCodes ?? {};
  const notOk = Object.entries(statusCodes).filter(([code]) => code !== "200");
  if (notOk.length)
    out.warn(
      `not every answer was the model's: HTTP ${notOk.map(([code, n]) => `${code}×${n}`).join(", ")} of ${Object.values(statusCodes).reduce((a, b) => a + b, 0)} responses. The latencies are not the model's; run \`labgate demo --keep\` and try one request by hand: curl -si -X ${DEMO_REQUEST.method} -H 'Content-Type: ${DEMO_REQUEST.contentType}' -d '${DEMO_REQUEST.body}' ${last.url}`,
    );
  out.info(`\n== 4/4 report: ${reports.reportHtml}\n   (also ${reports.reportMd} and ${reports.resultJson})`);
  return {
    available: true,
    url: last.url,
    request: {
      method: DEMO_REQUEST.method,
      bodyBytes: Buffer.byteLength(DEMO_REQUEST.body),
      contentType: DEMO_REQUEST.contentType,
    },
    statusCodes,
    slos: (last.slos ?? []).map((x) => x.expression),
    slosPassed: last.slosPassed ?? null,
    ...(last.untrustworthy ? { untrustworthy: last.untrustworthy } : {}),
    aborted: Boolean(last.aborted),
    reports,
  };
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
}
