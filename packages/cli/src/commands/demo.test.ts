import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { isProcessAlive } from "@labgate/core";
import { registerProvider } from "@labgate/lxd-lab";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fakeProvider } from "../../../lxd-lab/src/engine/test-support/fake-provider.js";
import { demoCommand } from "./demo.js";
import type { LabIo } from "./lab-context.js";

let cwd: string;
let restore: () => void;
let events: string[];
let failApply: Set<string>;
let server: Server;
let url: string;

// The service the bench measures: a real loopback server naming its backend like the app does.
beforeAll(async () => {
  let n = 0;
  server = createServer((_req, res) => {
    res.writeHead(200, { "X-Served-By": `app${(n++ % 2) + 1}` });
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), "labgate-demo-"));
  events = [];
  failApply = new Set();
  restore = registerProvider({ ...fakeProvider({ events, failApply }), name: "local", endpoint: () => url });
});
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
    expect(result.up).toMatchObject({ complete: true });
    expect(result.verify).toMatchObject({ passed: true });
    expect(result.bench).toMatchObject({
      available: true,
      url,
      slos: ["p99<250ms", "errors<1%"],
      slosPassed: true,
      aborted: false,
    });
    expect(result.down).toMatchObject({ stateRemoved: true });
    const html = await readFile(join(cwd, "reports/report.html"), "utf8");
    expect(html).toContain("<html");
    expect(JSON.parse(await readFile(join(cwd, "reports/result.json"), "utf8")).slosPassed).toBe(true);
    expect(t.err()).toContain(`== 4/4 report: ${join(cwd, "reports/report.html")}`);
    expect(t.err()).toContain("PASS  p99<250ms");
    await expect(stat(join(cwd, ".labgate/labs/demo"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(events.filter((e) => e.startsWith("undo:"))).toEqual([
      "undo:write-marker",
      "undo:start-server",
      "undo:write-config",
      "undo:make-dir",
    ]);
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
