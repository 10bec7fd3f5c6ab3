import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDeployment } from "../deploy-rules/check-deployment.js";
import { resolveDeployNetwork } from "../deploy-rules/resolve-network.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { IpPool } from "../ip-pool/ip-pool.js";
import { isGone, readProcStat } from "../process/proc-stat.js";
import { freePort } from "../test-support/free-ports.js";
import { LocalAdapter } from "./local.js";
import { localLoopbackPoolConfig } from "./local-pool.js";
import type { NodeRef } from "./types.js";
import { pollUntil } from "./wait.js";

/** A node that serves its own LABGATE_* environment as JSON on {ip}:{port}. */
const SERVE_ENV = `
const [ip, port] = process.argv.slice(-2);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("LABGATE_")));
require("node:http").createServer((_q, s) => s.end(JSON.stringify(env))).listen(Number(port), ip);
`;

describe("LocalAdapter: a node is a real process on a loopback address", () => {
  let dir: string;
  let pool: IpPool;
  const started: NodeRef[] = [];
  const spec = (command: string[], extra: Record<string, unknown> = {}): DeploySpec => ({
    name: "node1",
    platform: "local",
    os: { family: "linux" },
    cores: 1,
    memory_mib: 256,
    network: {},
    platform_options: { local: { command, log_dir: dir, ...extra } },
  });
  const adapterFor = (s: DeploySpec, stopGraceMs?: number) =>
    new LocalAdapter({ spec: s, pollIntervalMs: 20, ...(stopGraceMs ? { stopGraceMs } : {}) });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "labgate-local-"));
    pool = new IpPool({ config: localLoopbackPoolConfig(), statePath: join(dir, "ip-pool.state.json") });
  });
  afterEach(async () => {
    for (const ref of started.splice(0)) await new LocalAdapter().destroy(ref);
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys from the loopback pool, hands the node its network, pauses, resumes and destroys it", async () => {
    const port = await freePort("127.0.0.2");
    const s = spec([process.execPath, "-e", SERVE_ENV, "{ip}", String(port)], { ready_port: port });
    const adapter = adapterFor(s);
    const findings = checkDeployment(s, adapter);
    expect(findings.filter((f) => f.severity === "error")).toEqual([]);
    expect(findings.map((f) => f.code)).toContain("STATIC_ADDRESS_FROM_POOL");

    const { spec: resolved } = await resolveDeployNetwork(s, "local", pool);
    expect(resolved.resolvedNetwork).toEqual({
      mode: "static",
      ip: "127.0.0.2",
      prefix: 8,
      netmask: "255.0.0.0",
      gateway: "127.0.0.1",
      dns: [],
      source: "pool",
    });
    const plan = adapter.plan(resolved);
    expect(plan.calls[0]?.target).toContain(`127.0.0.2 ${port}`);
    expect(plan.calls[1]?.target).toContain(`tcp 127.0.0.2:${port}`);

    const ref = await adapter.create(resolved);
    started.push(ref);
    expect(ref).toMatchObject({ platform: "local", name: "node1", location: { ip: "127.0.0.2" } });
    const info = await adapter.waitUntilRunning(ref, { timeoutMs: 10_000 });
    expect(info).toMatchObject({ state: "running", addresses: ["127.0.0.2"] });
    const env = (await (await fetch(`http://127.0.0.2:${port}/`)).json()) as Record<string, string>;
    expect(env).toMatchObject({
      LABGATE_NODE_NAME: "node1",
      LABGATE_IP: "127.0.0.2",
      LABGATE_PREFIX: "8",
      LABGATE_NETMASK: "255.0.0.0",
      LABGATE_GATEWAY: "127.0.0.1",
      LABGATE_CORES: "1",
      LABGATE_MEMORY_MIB: "256",
    });

    await adapter.stop(ref);
    expect(await adapter.get(ref)).toMatchObject({ state: "stopped", rawState: "T (stopped)" });
    await adapter.start(ref);
    expect((await adapter.waitUntilRunning(ref, { timeoutMs: 5_000 })).state).toBe("running");

    await adapter.destroy(ref);
    expect(await adapter.get(ref)).toBeUndefined();
    // Exited: gone, or a zombie for the instant until this test process (its parent here) reaps it.
    expect(isGone(await readProcStat(Number(ref.id)))).toBe(true);
    await adapter.destroy(ref); // gone: not an error
    await expect(adapter.start(ref)).rejects.toMatchObject({ code: "PLATFORM_NOT_FOUND" });
  });

  it("reports pending until the ready port answers, and a node that dies as failed", async () => {
    const port = await freePort("127.0.0.3");
    // Listens only after 300 ms, then exits after 1.5 s.
    const script = `setTimeout(() => require("node:net").createServer().listen(${port}, "127.0.0.3"), 300); setTimeout(() => process.exit(3), 1500);`;
    const s = {
      ...spec([process.execPath, "-e", script], { ready_port: port }),
      network: { ip: "127.0.0.3" },
    };
    const adapter = adapterFor(s);
    const { spec: resolved } = await resolveDeployNetwork(s, "local", pool);
    const ref = await adapter.create(resolved);
    started.push(ref);
    expect((await adapter.get(ref))?.state).toBe("pending");
    expect((await adapter.waitUntilRunning(ref, { timeoutMs: 5_000 })).state).toBe("running");
    await pollUntil(
      "node exit",
      () => adapter.get(ref),
      (i) => i === undefined,
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    await expect(adapter.waitUntilRunning(ref, { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: "PLATFORM_WAIT_FAILED",
      message: expect.stringContaining("no longer exists"),
    });
  });

  it("ends a node that ignores SIGTERM with SIGKILL after the grace period", async () => {
    const port = await freePort("127.0.0.4");
    // Ready (listening) only once the SIGTERM handler is in place.
    const script = `process.on("SIGTERM", () => {}); require("node:net").createServer().listen(${port}, "127.0.0.4");`;
    const s = {
      ...spec([process.execPath, "-e", script], { ready_port: port }),
      network: { ip: "127.0.0.4" },
    };
    const adapter = adapterFor(s, 300);
    const { spec: resolved } = await resolveDeployNetwork(s, "local", pool);
    const ref = await adapter.create(resolved);
    started.push(ref);
    await adapter.waitUntilRunning(ref, { timeoutMs: 5_000 });
    const said: string[] = [];
    await adapter.destroy(ref, { onCall: (d) => said.push(d) });
    expect(said).toEqual([`kill -TERM -${ref.id}`, `kill -KILL -${ref.id}`]);
    expect(await adapter.get(ref)).toBeUndefined();
  });

  it("never signals a process whose pid was reused (start time differs)", async () => {
    const adapter = new LocalAdapter();
    const mine = await readProcStat(process.pid);
    expect(mine?.state).toBeDefined();
    const ref: NodeRef = {
      platform: "local",
      id: String(process.pid),
      name: "stale",
      location: { started: "1", ip: "127.0.0.2" },
    };
    expect(await adapter.get(ref)).toBeUndefined();
    await adapter.destroy(ref); // would kill this test run if the guard did not hold
    expect(await readProcStat(process.pid)).toBeDefined();
  });

  it("fails clearly when the program does not exist, and validates the spec", async () => {
    const s = { ...spec(["labgate-no-such-program-xyz"]), network: { ip: "127.0.0.5" } };
    const { spec: resolved } = await resolveDeployNetwork(s, "local", pool);
    await expect(adapterFor(s).create(resolved)).rejects.toMatchObject({
      code: "COMMAND_NOT_FOUND",
      exitCode: 4,
    });
    const bad: DeploySpec = {
      ...s,
      os: { family: "windows" },
      platform_options: { local: { command: "python3 -m http.server", ready_port: 70000 } },
    };
    expect(
      new LocalAdapter()
        .validate(bad)
        .filter((f) => f.severity === "error")
        .map((f) => f.code)
        .sort(),
    ).toEqual(["LOCAL_COMMAND_REQUIRED", "LOCAL_READY_PORT_INVALID", "LOCAL_WINDOWS_UNSUPPORTED"]);
  });
});
