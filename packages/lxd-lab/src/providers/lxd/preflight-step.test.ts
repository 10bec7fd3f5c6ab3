import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { labUp } from "../../engine/run-lab.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { lxdLabOptions } from "./lxd-lab-options.js";
import { createLxdProvider } from "./lxd-provider.js";
import { defaultClientFactory } from "./lxd-runtime.js";
import { lxdPreflight, preflightError, XTABLES_WARNING } from "./preflight-step.js";
import { fakeLxdDaemon } from "./test-support/fake-lxd-daemon.js";

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop() as string, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

const spec = (socketPath: string) =>
  parseLabSpec(
    {
      name: "pfdemo",
      provider: "lxd",
      network: { cidr: "10.20.0.0/24" },
      image: "labgate/debian-bookworm",
      providerOptions: { socketPath },
    },
    "test",
  );

// No LXD is needed here: these are the failures of a host where LXD does not answer.
describe("LXD preflight when LXD is unreachable", () => {
  it("no socket at the configured path: LXD_UNREACHABLE with the commands that start LXD", async () => {
    const o = lxdLabOptions(spec("/nonexistent/labgate-preflight/unix.socket"));
    const report = await lxdPreflight(defaultClientFactory(o), o);
    expect(report.problems.map((p) => p.code)).toEqual(["LXD_UNREACHABLE"]);
    expect(report.problems[0]?.problem).toContain("/nonexistent/labgate-preflight/unix.socket");
    expect(report.problems[0]?.fix).toContain("lxd waitready");
    const error = preflightError(report);
    expect(error.code).toBe("LXD_UNREACHABLE");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
    expect(error.message).toContain("fix: ");
  });

  it("a dead socket (daemon crashed) is reported the same way, not as ECONNREFUSED", async () => {
    const path = join(await tempDir("labgate-pf-sock-"), "unix.socket");
    execFileSync("python3", [
      "-c",
      "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      path,
    ]);
    const o = lxdLabOptions(spec(path));
    const report = await lxdPreflight(defaultClientFactory(o), o);
    expect(report.problems.map((p) => p.code)).toEqual(["LXD_UNREACHABLE"]);
    expect(report.problems[0]?.problem).toMatch(/not answering/);
  });

  it("lab up stops at preflight with exit 4 and the fix in the message", async () => {
    const stateDir = join(await tempDir("labgate-pf-state-"), "lab");
    const error = (await labUp({
      provider: createLxdProvider(),
      spec: spec("/nonexistent/labgate-preflight/unix.socket"),
      stateDir,
      gate: autoYesGate(),
    }).catch((e: unknown) => e)) as { code?: string; exitCode?: number; message?: string };
    expect(error.code).toBe("STEP_FAILED");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
    expect(error.message).toContain("lxd waitready");
  });
});

describe("LXD preflight facts", () => {
  const ready = (firewall: string) => ({
    "/1.0": {
      api_extensions: [],
      api_version: "1.0",
      auth: "trusted",
      environment: { server_version: "5.0.2", firewall },
    },
    "/1.0/storage-pools/default": { name: "default", driver: "dir", config: {} },
    "/1.0/networks?recursion=1": [],
    "/1.0/instances?recursion=1": [],
    "/1.0/images/aliases/labgate%2Fdebian-bookworm": {
      name: "labgate/debian-bookworm",
      target: "abc123abc123",
    },
    "/1.0/images/abc123abc123": { fingerprint: "abc123abc123", properties: {}, aliases: [] },
  });

  it("warns, without blocking, when LXD runs the xtables firewall driver", async () => {
    for (const [firewall, warned] of [
      ["xtables", true],
      ["nftables", false],
    ] as const) {
      const fake = await fakeLxdDaemon(ready(firewall));
      try {
        const o = lxdLabOptions(spec("/unused"));
        const report = await lxdPreflight(fake.client, o);
        expect(report.problems).toEqual([]);
        expect(report.facts.includes(XTABLES_WARNING)).toBe(warned);
      } finally {
        await fake.close();
      }
    }
    expect(XTABLES_WARNING).toContain("apt-get install -y nftables");
  });
});
