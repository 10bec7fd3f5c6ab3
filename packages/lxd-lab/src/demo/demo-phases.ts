import { join } from "node:path";
import { BENCH_REQUEST, benchSettings, benchUrl, describeLoad } from "../bench-step/bench-settings.js";
import { labEndpoint } from "../engine/lab-status.js";
import type { LabProvider } from "../engine/step.js";
import type { LabSpec } from "../spec/lab-spec.js";

export type DemoPhaseId = "up" | "verify" | "bench" | "report" | "down";

/** One phase of the demo, as people (and --json) see it before it runs. */
export interface DemoPhase {
  id: DemoPhaseId;
  title: string;
  why: string;
  /** Runs at the end whatever happened before (a failure, Ctrl-C): teardown. The others run in order, each only after the last one succeeded. */
  final: boolean;
}

export interface DemoPhaseInput {
  provider: LabProvider;
  spec: LabSpec;
  /** Where the report is copied. */
  reportDir: string;
  /** Leave the lab up at the end: no teardown phase. */
  keep?: boolean;
}

/** The files the demo leaves in its report directory (copied from the bench step's report). */
export function demoReportFiles(dir: string): {
  dir: string;
  resultJson: string;
  reportMd: string;
  reportHtml: string;
} {
  return {
    dir,
    resultJson: join(dir, "result.json"),
    reportMd: join(dir, "report.md"),
    reportHtml: join(dir, "report.html"),
  };
}

/** The demo's phases in the order they run: pure, from the same inputs `runDemo` gets. */
export function demoPhases(input: DemoPhaseInput): DemoPhase[] {
  const { provider, spec } = input;
  const load = describeLoad(benchSettings(spec));
  const url = benchUrl(labEndpoint(provider, spec));
  const bodyBytes = Buffer.byteLength(BENCH_REQUEST.body);
  const reports = demoReportFiles(input.reportDir);
  const phases: DemoPhase[] = [
    {
      id: "up",
      title: "lab up",
      why: `Build lab "${spec.name}" (provider ${provider.name}) step by step, without its bench step: the benchmark waits for the round-robin check.`,
      final: false,
    },
    {
      id: "verify",
      title: "verify round robin through the load balancer",
      why: "A benchmark through a load balancer that does not spread requests over every app would measure the wrong thing; a failed check skips it.",
      final: false,
    },
    {
      id: "bench",
      title: `benchmark ${BENCH_REQUEST.method} ${url} (${load}, SLOs: ${spec.slos.join(", ") || "none"}): the lab's bench step`,
      why:
        `every request: ${BENCH_REQUEST.method} ${new URL(url).pathname}, Content-Type: ${BENCH_REQUEST.contentType}, ${bodyBytes}-byte body:\n` +
        `${BENCH_REQUEST.body}\n` +
        "(the app's real work: each request runs the sentiment model; a 4xx/5xx answer counts as an error)",
      final: false,
    },
    {
      id: "report",
      title: `report: ${reports.reportHtml}`,
      why: `also ${reports.reportMd} and ${reports.resultJson}: the bench step's own copy is in the lab's state dir, which teardown removes.`,
      final: false,
    },
  ];
  if (!input.keep) {
    phases.push({
      id: "down",
      title: "teardown: lab down",
      why: "Announced up front and part of the demo: it runs without asking, also after a failure or Ctrl-C.",
      final: true,
    });
  }
  return phases;
}
