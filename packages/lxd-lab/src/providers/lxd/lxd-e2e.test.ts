import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { BenchResult } from "@labgate/bench";
import { ExitCode, LxdClient } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { labStatus, labVerify } from "../../engine/lab-status.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { verifyRoundRobin } from "../../verify/round-robin.js";
import { LAB_MARKER_KEY, lxdLabOptions } from "./lxd-lab-options.js";
import { createLxdProvider } from "./lxd-provider.js";
import { lxdPreflight } from "./preflight-step.js";
import { expectDriftRepaired } from "./test-support/lxd-drift.js";
import { failUnlessUsable, freeLoopbackPort, lxdE2eState } from "./test-support/lxd-e2e-env.js";

/**
 * The LXD provider against the real daemon: lab up, round robin through the proxy device,
 * idempotent second up, down leaves no instance and no network. Runs when LXD is usable (LABGATE_LXD_E2E=0 leaves it out)
 * (LABGATE_REQUIRE_LXD=1 makes an unreachable LXD a failure instead of a skip).
 * Traffic goes only to the bridge this test creates, its containers, and a loopback port.
 * Subnets 10.20.100.0–10.20.202.0 (the cloud-init suite, which may run at the same time, uses
 * 10.20.20.0–10.20.79.0).
 */
const image = process.env.LABGATE_LXD_IMAGE ?? "labgate/debian-bookworm";
const state = await lxdE2eState([image]);
failUnlessUsable("LXD end-to-end", state);
const freePort = freeLoopbackPort;

describe.skipIf(!state.ok)(`LXD end-to-end${state.ok ? "" : ` (skipped: ${state.reason})`}`, () => {
  const client = new LxdClient();
  const lab = `lge2e${process.pid % 10000}`;
  const bridge = `lgt${process.pid % 100000}`;
  const subnetByte = 100 + (process.pid % 100);
  let stateDir: string;
  let spec: LabSpec;
  const provider = createLxdProvider();
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);

  // An instance that is not the lab's: `down` must leave it alone.
  const bystander = `${lab}-bystander`;

  beforeAll(async () => {
    await client.createInstance({
      name: bystander,
      source: { type: "image", alias: image },
      devices: { root: { type: "disk", path: "/", pool: "default" } },
    });
    stateDir = await mkdtemp(join(tmpdir(), "labgate-lxd-e2e-"));
    const port = await freePort();
    spec = parseLabSpec(
      {
        name: lab,
        provider: "lxd",
        network: { cidr: `10.20.${subnetByte}.0/24`, name: bridge, dhcp: false },
        lb: { expose: { address: "127.0.0.1", port } },
        image,
        // The final bench step: short, and an SLO any working lab meets on a loaded CI machine.
        slos: ["errors<1%"],
        bench: { duration: "2s", connections: 4 },
      },
      "lxd-e2e",
    );
  });

  afterAll(async () => {
    // Safety net when a test failed half-way: remove only what carries this lab's marker.
    for (const instance of await client.listInstances().catch(() => [])) {
      if (instance.config[LAB_MARKER_KEY] === lab || instance.config[LAB_MARKER_KEY] === `${lab}c`) {
        await client.setInstanceState(instance.name, "stop", { force: true }).catch(() => {});
        await client.deleteInstance(instance.name).catch(() => {});
      }
    }
    await client.deleteInstance(bystander).catch(() => {});
    for (const [name, owner] of [
      [bridge, lab],
      [`${bridge}c`.slice(0, 15), `${lab}c`],
    ] as const) {
      const network = await client.getNetwork(name).catch(() => undefined);
      if (network?.config[LAB_MARKER_KEY] === owner) await client.deleteNetwork(name).catch(() => {});
    }
    await rm(stateDir, { recursive: true, force: true });
  }, 120_000);

  it("lab up builds the lab and round robin passes through the proxy device", async () => {
    const started = Date.now();
    const result = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
    expect(result.complete).toBe(true);
    expect(result.changed).toBe(true);
    expect(result.steps.map((s) => s.outcome).every((o) => o === "applied" || o === "already-done")).toBe(
      true,
    );

    const instances = (await client.listInstances()).filter((i) => i.config[LAB_MARKER_KEY] === lab);
    expect(instances.map((i) => i.name).sort()).toEqual([`${lab}-app1`, `${lab}-app2`, `${lab}-lb`]);
    expect(instances.every((i) => i.status === "Running")).toBe(true);
    const network = await client.getNetwork(bridge);
    expect(network?.config["ipv4.dhcp"]).toBe("false");

    // Round robin through the proxy device on the host's loopback, independently of the step's own check.
    const report = await verifyRoundRobin({
      url: provider.endpoint?.(spec) ?? "",
      expectedBackends: [`${lab}-app1`, `${lab}-app2`],
      requests: 20,
    });
    expect(report.problems).toEqual([]);
    expect(report.counts).toEqual({ [`${lab}-app1`]: 10, [`${lab}-app2`]: 10 });

    const verified = await labVerify({ provider, spec, stateDir, verify: { requests: 20 } });
    expect(verified.passed).toBe(true);
    const status = await labStatus({ provider, spec, stateDir });
    expect(status.resources.filter((r) => r.health !== "healthy")).toEqual([]);
    expect(status.resources.map((r) => r.kind)).toEqual(
      expect.arrayContaining(["network", "container", "proxy-device", "address"]),
    );
    console.error(`lab up took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  it("preflight names each problem with the command that fixes it", async () => {
    // Runs after the first test on purpose: its bridge is what makes this lab's subnet "in use".
    const other = parseLabSpec(
      {
        name: `${lab}x`,
        provider: "lxd",
        network: { cidr: `10.20.${subnetByte}.0/24`, name: `${bridge}x`.slice(0, 15) },
        image: "labgate/no-such-image",
        providerOptions: { storagePool: "labgate-no-such-pool" },
        // The first lab's proxy device (a real forkproxy on the host) holds this expose port.
        lb: { expose: spec.lb.expose },
      },
      "preflight-test",
    );
    const report = await lxdPreflight(client, lxdLabOptions(other));
    expect(report.problems.map((p) => p.code).sort()).toEqual([
      "LXD_EXPOSE_PORT_TAKEN",
      "LXD_IMAGE_MISSING",
      "LXD_STORAGE_POOL_MISSING",
      "LXD_SUBNET_IN_USE",
    ]);
    expect(report.problems.find((p) => p.code === "LXD_STORAGE_POOL_MISSING")?.fix).toContain(
      "lxc storage create labgate-no-such-pool dir",
    );
    expect(report.problems.find((p) => p.code === "LXD_IMAGE_MISSING")?.fix).toContain("labgate image build");
    // The clash names the lab that owns the other network, and the expose port's holder.
    expect(report.problems.find((p) => p.code === "LXD_SUBNET_IN_USE")?.problem).toContain(
      `LXD network ${bridge} (of labgate lab "${lab}")`,
    );
    expect(report.problems.find((p) => p.code === "LXD_EXPOSE_PORT_TAKEN")?.problem).toContain(
      `${spec.lb.expose?.address}:${spec.lb.expose?.port} is already in use by`,
    );
    const up = await labUp({
      provider,
      spec: other,
      stateDir: join(stateDir, "other"),
      gate: autoYesGate(),
      log,
    }).catch((e: unknown) => e);
    expect((up as { code?: string }).code).toBe("STEP_FAILED");
    expect(await client.getNetwork(`${bridge}x`.slice(0, 15))).toBeUndefined();
  }, 120_000);

  it("preflight: a bridge name held by another LXD network or a host interface is refused, and left alone", async () => {
    const foreign = `${bridge}f`.slice(0, 15);
    const hostLink = `${bridge}h`.slice(0, 15);
    const taken = (name: string, suffix: string) =>
      parseLabSpec(
        {
          name: `${lab}${suffix}`,
          provider: "lxd",
          network: { cidr: `10.20.${subnetByte + 2}.0/24`, name },
          image,
        },
        "bridge-taken-test",
      );
    // Someone else's managed network (no labgate marker) and a host bridge LXD does not manage, both made here.
    try {
      await client.createNetwork({
        name: foreign,
        config: { "ipv4.address": "none", "ipv6.address": "none" },
      });
      execFileSync("ip", ["link", "add", hostLink, "type", "bridge"]);
      for (const [name, suffix, owner] of [
        [foreign, "f", "something other than labgate"],
        [hostLink, "h", "LXD does not manage"],
      ] as const) {
        const other = taken(name, suffix);
        const report = await lxdPreflight(client, lxdLabOptions(other));
        const problem = report.problems.find((p) => p.code === "LXD_BRIDGE_TAKEN");
        expect(problem?.problem).toContain(owner);
        expect(problem?.fix).toContain('"network": {"name": "<another name>"}');
        const otherState = join(stateDir, `taken-${suffix}`);
        const up = await labUp({
          provider,
          spec: other,
          stateDir: otherState,
          gate: autoYesGate(),
          log,
        }).catch((e: unknown) => e);
        expect((up as { code?: string }).code).toBe("STEP_FAILED");
        expect((up as Error).message).toContain("<another name>");
        expect((up as { exitCode?: number }).exitCode).toBe(ExitCode.PRECONDITION);
        await labDown({ provider, spec: other, stateDir: otherState, gate: autoYesGate(), log });
      }
      expect((await client.getNetwork(foreign))?.config[LAB_MARKER_KEY]).toBeUndefined();
      expect(execFileSync("ip", ["-o", "link", "show", hostLink]).toString()).toContain(hostLink);
    } finally {
      if (execFileSync("ip", ["-o", "link", "show"]).toString().includes(` ${hostLink}:`))
        execFileSync("ip", ["link", "del", hostLink]);
      if (await client.getNetwork(foreign)) await client.deleteNetwork(foreign);
    }
  }, 120_000);

  it("a second lab up changes nothing", async () => {
    const from = logs.length;
    const result = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
    // On failure, show what the run found: the check or verification that said "not done".
    const rerun = result.steps.filter((s) => s.outcome !== "already-done").map((s) => `${s.id} ${s.outcome}`);
    expect(rerun, logs.slice(from).join("\n")).toEqual([]);
    expect(result.changed).toBe(false);
  }, 300_000);

  it("verify names an app that stopped serving, and lab up repairs it", async () => {
    await client.exec(`${lab}-app2`, ["sh", "-c", "pkill -F /run/labgate-sentiment.pid"]);
    const broken = await labVerify({ provider, spec, stateDir, verify: { requests: 10 } });
    expect(broken.passed).toBe(false);
    expect(broken.summary).toContain(`${lab}-app2`);
    const repaired = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
    expect(repaired.steps.find((s) => s.id === "deploy-app2")?.outcome).toBe("applied");
    expect(repaired.steps.filter((s) => s.outcome === "applied").map((s) => s.id)).toEqual(["deploy-app2"]);
    expect((await labVerify({ provider, spec, stateDir })).passed).toBe(true);
  }, 300_000);

  it("status is a check: a stopped container makes it unhealthy, named; lab up brings it back and status passes", async () => {
    expect((await labStatus({ provider, spec, stateDir })).healthy).toBe(true);
    await client.setInstanceState(`${lab}-app1`, "stop", { force: true });
    // The issue's bound: a stopped container is reported in < 2 s. Checks read LXD's instance state first
    // and send no request that would wait on the stopped container (before: ~3 s HTTP probe timeouts, and
    // verify's 5 s wait for HAProxy to mark every backend UP).
    const started = Date.now();
    const status = await labStatus({ provider, spec, stateDir });
    const elapsed = Date.now() - started;
    expect(status.healthy).toBe(false);
    expect(elapsed).toBeLessThan(2_000);
    expect(status.resources.find((r) => r.kind === "container" && r.id === `${lab}-app1`)).toMatchObject({
      health: "unhealthy",
      detail: expect.stringMatching(/^Stopped/),
    });
    // The other resources were probed too (in parallel) and keep their own verdicts: the LB is asked
    // only about itself while a backend is stopped.
    expect(status.resources.find((r) => r.kind === "container" && r.id === `${lab}-app2`)?.health).toBe(
      "healthy",
    );
    expect(status.resources.find((r) => r.kind === "container" && r.id === `${lab}-lb`)).toMatchObject({
      health: "healthy",
      detail: expect.stringContaining(`not probed through: ${lab}-app1 is Stopped`),
    });
    const live = (id: string) => status.steps.find((s) => s.id === id)?.live;
    expect(live("launch-app1")).toEqual({ done: false, detail: `${lab}-app1 is Stopped` });
    expect(live("deploy-app1")).toEqual({ done: false, detail: `${lab}-app1 is Stopped` });
    expect(live("verify-round-robin")).toEqual({ done: false, detail: `not probed: ${lab}-app1 is Stopped` });
    // The bench step's "does the LB answer now" is not asked either: HAProxy may route it to the stopped app.
    expect(live("bench")).toEqual({ done: false, detail: `not probed: ${lab}-app1 is Stopped` });
    expect(live("deploy-app2")).toMatchObject({ done: true });
    expect(live("deploy-lb")).toMatchObject({ done: true });
    const repaired = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
    expect(repaired.complete).toBe(true);
    expect((await labStatus({ provider, spec, stateDir })).healthy).toBe(true);
  }, 300_000);

  it("drift: haproxy.cfg edited in the LB container and reloaded; lab up names it and restores round robin", async () => {
    const from = logs.length;
    await expectDriftRepaired({ client, provider, spec, stateDir, lab, log, logs });
    expect(logs.slice(from).join("\n")).toMatch(/deploy-lb: repaired: pushed \d+ payload files/);
  }, 300_000);

  it("the final bench step ran through the proxy device; status shows its last result", async () => {
    const status = await labStatus({ provider, spec, stateDir });
    const bench = status.resources.find((r) => r.kind === "bench");
    expect(bench?.health).toBe("healthy");
    expect(bench?.detail).toMatch(
      /^SLOs met( \(but the load generator was not trustworthy: .*\))? at .*errors 0%.*report .*report\.html$/,
    );
    // The result names the lab it measured: the hash is of the config HAProxy reads in the LB container.
    const html = /report (\S+report\.html)$/.exec(bench?.detail ?? "")?.[1] ?? "";
    const result = JSON.parse(await readFile(join(dirname(html), "result.json"), "utf8")) as BenchResult;
    const config = await client.readFile(lxdLabOptions(spec).lb.instance, "/etc/haproxy/haproxy.cfg");
    expect(result.environment?.lab).toMatchObject({
      name: lab,
      provider: "lxd",
      haproxyConfigSha256: createHash("sha256").update(config!).digest("hex"),
    });
  }, 60_000);

  it("lab down removes the instances, the proxy device and the network, and nothing else", async () => {
    const before = (await client.listInstances())
      .filter((i) => i.config[LAB_MARKER_KEY] !== lab)
      .map((i) => i.name);
    expect(before).toContain(bystander);
    const result = await labDown({ provider, spec, stateDir, gate: autoYesGate(), log });
    expect(result.complete).toBe(true);
    const after = await client.listInstances();
    expect(after.filter((i) => i.config[LAB_MARKER_KEY] === lab)).toEqual([]);
    // Only the bystander is asserted: other suites on this shared daemon create and delete their own instances meanwhile.
    expect(after.map((i) => i.name)).toContain(bystander);
    expect(await client.getNetwork(bridge)).toBeUndefined();
    // Everything labgate wrote is gone; the directory itself was made by this test (mkdtemp), so it may stay.
    expect(await readdir(stateDir).catch(() => [])).toEqual([]);
  }, 300_000);

  it("cloud-init payload mode: LXD takes the cloud-init.* keys; on an image without cloud-init the payload is pushed", async () => {
    const ciLab = `${lab}c`;
    const ciBridge = `${bridge}c`.slice(0, 15);
    const ciSpec = parseLabSpec(
      {
        name: ciLab,
        provider: "lxd",
        network: { cidr: `10.20.${subnetByte + 1}.0/24`, name: ciBridge },
        lb: { expose: { address: "127.0.0.1", port: await freePort() } },
        image,
        providerOptions: { payload: "cloud-init" },
      },
      "lxd-e2e-cloud-init",
    );
    const ciState = join(stateDir, "cloud-init-lab");
    try {
      const up = await labUp({ provider, spec: ciSpec, stateDir: ciState, gate: autoYesGate(), log });
      expect(up.complete).toBe(true);
      const app1 = await client.getInstance(`${ciLab}-app1`);
      const keys = (await client.hasExtension("cloud_init"))
        ? ["cloud-init.user-data", "cloud-init.network-config"]
        : ["user.user-data", "user.network-config"];
      expect(app1?.config[keys[0] ?? ""]).toMatch(/^#cloud-config\n/);
      expect(app1?.config[keys[1] ?? ""]).toContain("version: 2");
      expect(
        (await labUp({ provider, spec: ciSpec, stateDir: ciState, gate: autoYesGate(), log })).changed,
      ).toBe(false);
    } finally {
      const down = await labDown({ provider, spec: ciSpec, stateDir: ciState, gate: autoYesGate(), log });
      expect(down.complete).toBe(true);
      expect(await client.getNetwork(ciBridge)).toBeUndefined();
    }
  }, 600_000);
});
