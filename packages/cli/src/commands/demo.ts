import { resolve } from "node:path";
import {
  type BenchResult,
  formatMeasurementText,
  parseDuration,
  parseSlos,
  runBench,
  type Slo,
  type WrittenReports,
  writeReports,
} from "@labgate/bench";
import { ExitCode, InvalidInputError, isLabgateError, redact } from "@labgate/core";
import {
  autoYesGate,
  type LabRunResult,
  type LabVerifyResult,
  labDown,
  labEndpoint,
  labUp,
  labVerify,
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

/**
 * What the demo benchmarks: the service's real work, one sentiment prediction through the LB, with
 * a review of the length and mix of praise and complaint the model is meant for. `GET /` would only
 * measure an info page.
 */
export const DEMO_REQUEST = {
  method: "POST",
  path: "predict",
  contentType: "application/json",
  body: JSON.stringify({
    text:
      "Ordered the trail jacket last week. Delivery was fast and the fit is great, but the zipper " +
      "broke after two days and support still has not answered my emails. Disappointed.",
  }),
} as const;

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
    aborted: boolean;
    reports: WrittenReports;
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
        "benchmark POST /predict (one sentiment prediction per request) through the load balancer against the spec's SLOs, " +
        "write the report, then tear the lab down (also on failure or Ctrl-C).",
    )
    .option("-y, --yes", "answer yes at every confirmation gate of `lab up`")
    .option("--keep", "leave the lab up at the end (tear it down later with `labgate lab down`)")
    .option(
      "--spec <file>",
      "lab spec (JSON or YAML); default lab.json / lab.yaml here, else the built-in local lab",
    )
    .option("--state-dir <dir>", "where the lab's state lives (default .labgate/labs/<name>)")
    .option("-d, --duration <time>", "benchmark duration", "10s")
    .option("-c, --connections <n>", "benchmark connections", "10")
    .option("--out <dir>", "report directory (default .labgate/reports/<lab>-<time>)")
    .option("--json", "print the demo result as JSON on stdout")
    .action(async (flags: DemoFlags) => {
      process.exitCode = await demoCommand(flags);
    });
}

export async function demoCommand(flags: DemoFlags, io: LabIo = processIo()): Promise<number> {
  const out = createOutput(Boolean(flags.json), io);
  const target = await resolveLab(flags, io, false);
  // Bad input fails before anything is built.
  const slos: Slo[] = parseSlos(target.spec.slos);
  const durationMs = parseDuration(flags.duration ?? "10s", "--duration");
  const connections = Number(flags.connections ?? "10");
  if (!Number.isInteger(connections) || connections < 1) {
    throw new InvalidInputError(
      "INVALID_FLAG",
      `--connections "${flags.connections}" is not a whole number of at least 1.`,
      { hint: "Pass e.g. --connections 10." },
    );
  }
  const reportDir = resolve(io.cwd, flags.out ?? `.labgate/reports/${target.spec.name}-${timestamp()}`);
  const log = (l: string) => out.info(l);
  const result: DemoResult = {
    lab: target.spec.name,
    up: null,
    verify: null,
    bench: null,
    down: null,
    kept: Boolean(flags.keep),
  };
  out.info(
    `labgate demo: build lab "${target.spec.name}" (provider ${target.provider.name}), verify round robin, benchmark for ${flags.duration ?? "10s"} against ${
      target.spec.slos.join(", ") || "no SLOs"
    }, write the report, then ${flags.keep ? "leave the lab up (--keep)" : "tear the lab down"}.`,
  );

  const gate = makeGate(flags.yes, io);
  let failure: unknown;
  let exit: number = ExitCode.OK;
  try {
    await withInterrupt(io, async (signal) => {
      out.info("\n== 1/4 lab up");
      result.up = await labUp({ ...target, gate, signal, log });
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

      // Relative, so an endpoint with a path prefix keeps it.
      const url = new URL(DEMO_REQUEST.path, labEndpoint(target.provider, target.spec)).toString();
      const bodyBytes = Buffer.byteLength(DEMO_REQUEST.body);
      out.info(
        `\n== 3/4 benchmark ${DEMO_REQUEST.method} ${url} (${connections} connections, ${flags.duration ?? "10s"}, SLOs: ${target.spec.slos.join(", ") || "none"})\n` +
          `   every request: ${DEMO_REQUEST.method} ${new URL(url).pathname}, Content-Type: ${DEMO_REQUEST.contentType}, ${bodyBytes}-byte body:\n` +
          `   ${DEMO_REQUEST.body}\n` +
          "   (the app's real work: each request runs the sentiment model; a 4xx/5xx answer counts as an error)",
      );
      const bench: BenchResult = await runBench({
        url,
        method: DEMO_REQUEST.method,
        headers: { "Content-Type": DEMO_REQUEST.contentType },
        body: DEMO_REQUEST.body,
        connections,
        durationMs,
        warmupMs: Math.min(1000, Math.round(durationMs / 5)),
        signal,
        slos,
      });
      const reports = await writeReports(bench, reportDir);
      result.bench = {
        available: true,
        url,
        request: { method: DEMO_REQUEST.method, bodyBytes, contentType: DEMO_REQUEST.contentType },
        statusCodes: bench.requests.statusCodes,
        slos: target.spec.slos,
        slosPassed: bench.slosPassed ?? null,
        aborted: Boolean(bench.aborted),
        reports,
      };
      const notOk = Object.entries(bench.requests.statusCodes).filter(([code]) => code !== "200");
      if (notOk.length)
        out.warn(
          `not every answer was the model's: HTTP ${notOk.map(([code, n]) => `${code}×${n}`).join(", ")} of ${bench.requests.responses} responses. The latencies are not the model's; run \`labgate demo --keep\` and try one request by hand: curl -si -X ${DEMO_REQUEST.method} -H 'Content-Type: ${DEMO_REQUEST.contentType}' -d '${DEMO_REQUEST.body}' ${url}`,
        );
      out.info(indent(formatMeasurementText(bench)));
      for (const slo of bench.slos ?? [])
        out.info(`  ${slo.pass ? "PASS" : "FAIL"}  ${slo.expression}  (measured ${slo.actualText})`);
      out.info(
        `\n== 4/4 report: ${reports.reportHtml}\n   (also ${reports.reportMd} and ${reports.resultJson})`,
      );
      if (bench.aborted) exit = ExitCode.INTERRUPTED;
      else if (bench.slosPassed === false) exit = ExitCode.CHECK_FAILED;
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
      ? `report: ${r.bench.reports.reportHtml}\nSLOs: ${r.bench.slosPassed === false ? "FAILED" : "passed"}`
      : "no benchmark ran",
  );
  return exit;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, "   ");
}
