import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { isProcessAlive } from "@labgate/core";
import { registerProvider, sentimentAppEntry } from "@labgate/lxd-lab";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fakeProvider } from "../../../lxd-lab/src/engine/test-support/fake-provider.js";
import { DEMO_REQUEST, demoCommand } from "./demo.js";
import type { LabIo } from "./lab-context.js";

let cwd: string;
let restore: () => void;
let events: string[];
let failApply: Set<string>;
let app: ChildProcess;
let appUrl: string;
/** The endpoint the fake provider reports for the lab; a test may point it elsewhere on the app. */
let endpoint: string;
/** The app's request log (http.server's access lines on stderr), reset per test. */
let accessLog: string[];

// The service the bench measures: the real sentiment app (python3, the model and its routes) on loopback.
beforeAll(async () => {
  app = spawn("python3", [sentimentAppEntry(), "--name", "app1", "--host", "127.0.0.1", "--port", "0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let buffer = "";
  appUrl = await new Promise<string>((resolve, reject) => {
    app.stderr!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      for (;;) {
        const nl = buffer.indexOf("\n");
        if (nl < 0) break;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const listening = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
        if (listening) resolve(`http://127.0.0.1:${listening[1]}/`);
        else if (/"[A-Z]+ \S+ HTTP\/1\.1"/.test(line)) accessLog.push(line);
      }
    });
    app.once("exit", (code) => reject(new Error(`the sentiment app exited early (${code})`)));
  });
});
afterAll(async () => {
  if (app.exitCode !== null) return;
  const exited = new Promise((r) => app.once("exit", r));
  app.kill("SIGTERM");
  await exited;
});

beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), "labgate-demo-"));
  events = [];
  failApply = new Set();
  accessLog = [];
  endpoint = appUrl;
  restore = registerProvider({
    ...fakeProvider({ events, failApply }),
    name: "local",
    endpoint: () => endpoint,
  });
});

/** How many requests the app logged with this request line and status, e.g. `POST /predict` 200. */
function logged(requestLine: string, status: number): number {
  return accessLog.filter((l) => l.includes(`"${requestLine} HTTP/1.1" ${status} `)).length;
}
afterEach(async () => {
  restore();
  await rm(cwd, { recursive: true, force: true });
});

function io(): { io: LabIo; out: () => string; err: () => string } {
  const stdin = Object.assign(new PassThrough(), { isTTY: false });
  stdin.end();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => {
    out += String(c);
  });
  stderr.on("data", (c) => {
    err += String(c);
  });
  return { io: { stdin, stdout, stderr, cwd }, out: () => out, err: () => err };
}

async function recordedPid(): Promise<number> {
  const state = JSON.parse(await readFile(join(cwd, ".labgate/labs/demo/state.json"), "utf8"));
  return Number(state.resources.find((r: { kind: string }) => r.kind === "process").id);
}

describe("labgate demo", () => {
  it("builds, verifies, benchmarks, writes the report and tears the lab down", async () => {
    const t = io();
    const code = await demoCommand(
      { yes: true, json: true, duration: "1s", connections: "2", out: "reports" },
      t.io,
    );
    expect(code).toBe(0);
    const result = JSON.parse(t.out());
    // The phases announced before they ran, each with its why, are in the document and on stderr.
    expect(result.phases.map((p: { id: string }) => p.id)).toEqual([
      "up",
      "verify",
      "bench",
      "report",
      "down",
    ]);
    for (const phase of result.phases) expect(t.err()).toContain(phase.why.split("\n")[0]);
    expect(result.up).toMatchObject({ complete: true });
    expect(result.verify).toMatchObject({ passed: true });
    expect(result.bench).toMatchObject({
      available: true,
      url: `${appUrl}predict`,
      request: {
        method: "POST",
        bodyBytes: Buffer.byteLength(DEMO_REQUEST.body),
        contentType: "application/json",
      },
      slos: ["p99<250ms", "errors<1%"],
      slosPassed: true,
      aborted: false,
    });
    // The app itself saw the model's work: every request it logged was a successful POST /predict
    // (GET / would be an info page; a bad body a 400), at least as many as the bench counted.
    const measured = JSON.parse(await readFile(join(cwd, "reports/result.json"), "utf8"));
    expect(result.bench.statusCodes).toEqual({ "200": measured.requests.responses });
    expect(measured.requests.responses).toBeGreaterThan(10);
    // The app logs before it answers, but its stderr may still be on its way through the pipe.
    await expect.poll(() => logged("POST /predict", 200)).toBeGreaterThanOrEqual(measured.requests.responses);
    expect(accessLog.length).toBe(logged("POST /predict", 200));
    expect(measured.options).toMatchObject({
      method: "POST",
      url: `${appUrl}predict`,
      body: { bytes: Buffer.byteLength(DEMO_REQUEST.body), contentType: "application/json" },
    });
    // The request is shown; the report header names it too.
    expect(t.err()).toContain(`== 3/4 benchmark POST ${appUrl}predict`);
    expect(t.err()).toContain(DEMO_REQUEST.body);
    expect(await readFile(join(cwd, "reports/report.md"), "utf8")).toContain(
      `POST ${appUrl}predict with a ${Buffer.byteLength(DEMO_REQUEST.body)} B body (application/json)`,
    );
    expect(result.down).toMatchObject({ stateRemoved: true });
    const html = await readFile(join(cwd, "reports/report.html"), "utf8");
    expect(html).toContain("<html");
    expect(JSON.parse(await readFile(join(cwd, "reports/result.json"), "utf8")).slosPassed).toBe(true);
    expect(t.err()).toContain(`== 4/4 report: ${join(cwd, "reports/report.html")}`);
    expect(t.err()).toContain("PASS  p99<250ms");
    // The numbers themselves, not just the verdicts: latency percentiles and throughput of the run.
    expect(t.err()).toMatch(/\n {3}Latency\n/);
    expect(t.err()).toMatch(/\n {3}Throughput over [0-9.]+s measured\n/);
    await expect(stat(join(cwd, ".labgate/labs/demo"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(events.filter((e) => e.startsWith("undo:"))).toEqual([
      "undo:write-marker",
      "undo:start-server",
      "undo:write-config",
      "undo:make-dir",
    ]);
  });

  it("the demo body is what the model is for: the app labels it with a score", async () => {
    const res = await fetch(`${appUrl}${DEMO_REQUEST.path}`, {
      method: DEMO_REQUEST.method,
      headers: { "Content-Type": DEMO_REQUEST.contentType },
      body: DEMO_REQUEST.body,
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { label: string; score: number };
    expect(["positive", "negative", "neutral"]).toContain(answer.label);
    expect(typeof answer.score).toBe("number");
  });

  it("answers that are not the model's (404 from a wrong path) fail the errors SLO: exit 1 and a warning", async () => {
    // The same app behind a path prefix it does not serve: POST /v1/predict is a 404.
    endpoint = `${appUrl}v1/`;
    const t = io();
    const code = await demoCommand({ yes: true, json: true, duration: "1s", connections: "2" }, t.io);
    expect(code).toBe(1);
    const result = JSON.parse(t.out());
    expect(result.bench.url).toBe(`${appUrl}v1/predict`);
    expect(Object.keys(result.bench.statusCodes)).toEqual(["404"]);
    await expect.poll(() => logged("POST /v1/predict", 404)).toBeGreaterThan(10);
    expect(logged("POST /predict", 200)).toBe(0);
    expect(result.bench.slosPassed).toBe(false);
    expect(t.err()).toContain("FAIL  errors<1%");
    expect(t.err()).toMatch(/not every answer was the model's: HTTP 404×\d+/);
  });

  it("--keep leaves the lab up; an SLO the lab cannot meet makes it exit 1", async () => {
    await writeFile(join(cwd, "lab.json"), JSON.stringify({ slos: ["rps>=100000000"] }));
    const t = io();
    expect(await demoCommand({ yes: true, keep: true, duration: "1s", connections: "1" }, t.io)).toBe(1);
    expect(t.err()).toContain("FAIL  rps>=100000000");
    expect(t.out()).toContain("SLOs: FAILED");
    const pid = await recordedPid();
    expect(isProcessAlive(pid)).toBe(true);
    expect(t.err()).toContain("The lab is left up (--keep)");
    // Clean up what --keep left.
    const { labDownCommand } = await import("./lab.js");
    await labDownCommand({ yes: true }, io().io);
    expect(isProcessAlive(pid)).toBe(false);
  });

  it("a failing step still tears down what was built, then reports the failure", async () => {
    failApply.add("write-marker");
    const t = io();
    const error = await demoCommand({ yes: true, duration: "1s" }, t.io).catch((e) => e);
    expect(error).toMatchObject({ code: "STEP_FAILED", stepId: "write-marker" });
    expect(t.err()).toContain("== teardown: lab down");
    expect(events).toContain("undo:start-server");
    await expect(stat(join(cwd, ".labgate/labs/demo"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("an invalid SLO in the spec is rejected before anything is built (exit 2)", async () => {
    await writeFile(join(cwd, "lab.json"), JSON.stringify({ slos: ["p99 fast"] }));
    await expect(demoCommand({ yes: true }, io().io)).rejects.toMatchObject({ exitCode: 2 });
    expect(events).toEqual([]);
  });

  it("without a terminal and without --yes it refuses, and leaves nothing behind", async () => {
    await expect(demoCommand({ duration: "1s" }, io().io)).rejects.toMatchObject({
      code: "NOT_CONFIRMED",
      exitCode: 7,
    });
    await expect(stat(join(cwd, ".labgate/labs/demo"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
