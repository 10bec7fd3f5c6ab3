import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { freePorts } from "../test-support/loopback-ports.js";

/**
 * `labgate lab plan|up|status` with `faults:` and `lb.healthCheck` in the spec, on the real local
 * lab (python3 apps, HAProxy): the lab ends with the failover step and status shows its verdict.
 */
let dir: string;
let specFile: string;
let stateDir: string;
let statsPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lgt-cli-failover-"));
  const [a, b, lb, stats] = await freePorts(4);
  statsPort = stats as number;
  specFile = join(dir, "lab.yaml");
  stateDir = join(dir, "state");
  await writeFile(
    specFile,
    [
      "name: lgt-cli-failover",
      `apps: { ports: [${a}, ${b}] }`,
      `lb: { port: ${lb}, statsPort: ${stats}, healthCheck: { interval: 300ms, fall: 2, rise: 1 } }`,
      "providerOptions: { verifyRequests: 10 }",
      "bench: { duration: 4s, connections: 2 }",
      'slos: ["errors<50%", "fault_errors<50%"]',
      'faults: ["drain app2 at 1s for 1s"]',
    ].join("\n"),
  );
}, 30_000);

afterAll(async () => {
  await cli(["lab", "down", "--spec", specFile, "--state-dir", stateDir, "--yes"]);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

const lab = (...args: string[]) => cli(["lab", ...args, "--spec", specFile, "--state-dir", stateDir]);

describe("labgate lab with faults: in the spec", () => {
  it("plan ends with the failover step, naming the faults, the check timing and the equivalent bench command", async () => {
    const r = await lab("plan", "--json");
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    const plan = JSON.parse(r.stdout) as {
      steps: { id: string; title: string; why: string; commands: string[] }[];
    };
    expect(plan.steps.slice(-2).map((s) => s.id)).toEqual(["bench", "failover"]);
    const failover = plan.steps.at(-1);
    expect(failover?.title).toContain("while drain app2 from 1s to 2s");
    expect(failover?.why).toContain("inter 300ms fall 2 rise 1");
    expect(failover?.commands[0]).toContain("--fault 'drain app2 at 1s for 1s'");
  });

  it("a fault the provider cannot do is refused at plan time, naming it (exit 4)", async () => {
    const other = join(dir, "netem.yaml");
    await writeFile(other, 'name: lgt-cli-netem\nfaults: ["loss 5% app1 at 1s for 1s"]\n');
    const r = await cli(["lab", "plan", "--spec", other, "--state-dir", join(dir, "other")]);
    expect(r.code).toBe(ExitCode.PRECONDITION);
    expect(r.stderr).toContain(
      "The failover step cannot loss on this local lab ('loss 5% app1 at 1s for 1s' in faults:)",
    );
  });

  it("up ends with the failover check; status shows its verdict beside the bench's", async () => {
    const up = await lab("up", "--yes");
    expect(up.code, up.stderr).toBe(ExitCode.OK);
    expect(up.stderr).toMatch(/failover: done and verified/);
    expect(up.stderr).toMatch(/fault undone \(window-end\) at \d+ ms: drain app2/);
    const r = await lab("status", "--json");
    const status = JSON.parse(r.stdout) as { resources: { kind: string; health: string; detail: string }[] };
    expect(status.resources.find((x) => x.kind === "bench")?.health).toBe("healthy");
    const failover = status.resources.find((x) => x.kind === "failover");
    expect(failover).toMatchObject({
      health: "healthy",
      detail: expect.stringMatching(
        /^under drain app2 at 1s for 1s \(inter 300ms fall 2 rise 1\) \[drain app2 at 1s for 1s: errors 0, .*\]: SLOs met/,
      ),
    });
    // Nothing is left drained.
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    const states = csv
      .split("\n")
      .filter((l) => /^lgt-cli-failover_apps,app\d,/.test(l))
      .map((l) => l.split(",")[17]);
    expect(states).toEqual(["UP", "UP"]);
  }, 180_000);
});
