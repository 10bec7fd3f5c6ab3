import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LxdClient } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoYesGate } from "../../engine/gate.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import { DEFAULT_LXD_CLOUD_IMAGE } from "../../image/image-build-options.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { verifyRoundRobin } from "../../verify/round-robin.js";
import { NETWORK_HOOK } from "./instance-network.js";
import { LAB_MARKER_KEY, lxdLabOptions } from "./lxd-lab-options.js";
import { createLxdProvider } from "./lxd-provider.js";
import { resolvePayloadMode } from "./payload-mode.js";
import { expectDriftRepaired } from "./test-support/lxd-drift.js";
import { failUnlessUsable, freeLoopbackPort, lxdE2eState } from "./test-support/lxd-e2e-env.js";

/**
 * The cloud-init path against the real daemon, on labgate's cloud-init image (systemd +
 * cloud-init, `labgate image build --cloud-init`): with payload "auto" the static address comes
 * from cloud-init's network-config and the app and HAProxy from user-data; nothing is pushed.
 * Traffic goes only to the bridge this test creates (10.20.20.0–10.20.79.0), its containers and
 * a loopback port.
 */
const cloudImage = process.env.LABGATE_LXD_CLOUD_IMAGE ?? DEFAULT_LXD_CLOUD_IMAGE;
const state = await lxdE2eState([cloudImage]);
failUnlessUsable("LXD cloud-init end-to-end", state);

describe.skipIf(!state.ok)(
  `LXD cloud-init end-to-end${state.ok ? "" : ` (skipped: ${state.reason})`}`,
  () => {
    const client = new LxdClient();
    const lab = `lgci${process.pid % 10000}`;
    const bridge = `lgk${process.pid % 100000}`;
    const subnet = `10.20.${20 + (process.pid % 60)}`;
    const provider = createLxdProvider();
    const logs: string[] = [];
    const log = (m: string) => {
      logs.push(m);
    };
    let stateDir: string;
    let spec: LabSpec;

    beforeAll(async () => {
      stateDir = await mkdtemp(join(tmpdir(), "labgate-lxd-ci-e2e-"));
      spec = parseLabSpec(
        {
          name: lab,
          provider: "lxd",
          network: { cidr: `${subnet}.0/24`, name: bridge, dns: [`${subnet}.1`] },
          lb: { expose: { address: "127.0.0.1", port: await freeLoopbackPort() } },
          image: cloudImage,
          slos: ["errors<1%"],
          bench: { duration: "2s", connections: 4 },
        },
        "lxd-cloud-init-e2e",
      );
    });

    afterAll(async () => {
      // Safety net when a test failed half-way: remove only what carries this lab's marker.
      for (const instance of await client.listInstances().catch(() => [])) {
        if (instance.config[LAB_MARKER_KEY] !== lab) continue;
        await client.setInstanceState(instance.name, "stop", { force: true }).catch(() => {});
        await client.deleteInstance(instance.name).catch(() => {});
      }
      const network = await client.getNetwork(bridge).catch(() => undefined);
      if (network?.config[LAB_MARKER_KEY] === lab) await client.deleteNetwork(bridge).catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
    }, 120_000);

    it("payload auto picks cloud-init from the image's labgate.cloud_init property", async () => {
      expect(await resolvePayloadMode(client, lxdLabOptions(spec))).toBe("cloud-init");
    });

    it("lab up: address from network-config, app and HAProxy from user-data, round robin through the proxy device", async () => {
      const result = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
      expect(result.complete).toBe(true);

      const keys = (await client.hasExtension("cloud_init"))
        ? { user: "cloud-init.user-data", network: "cloud-init.network-config" }
        : { user: "user.user-data", network: "user.network-config" };
      for (const name of ["app1", "app2", "lb"]) {
        const instance = `${lab}-${name}`;
        const config = (await client.getInstance(instance))?.config ?? {};
        expect(config[keys.user]).toMatch(/^#cloud-config\n/);
        const state = await client.getInstanceState(instance);
        const ip = state.network?.eth0?.addresses.find((a) => a.family === "inet")?.address ?? "";
        expect(config[keys.network]).toContain(`${ip}/24`);
        // cloud-init ran to completion and rendered the address itself; labgate pushed no boot hooks.
        const status = await client.exec(instance, ["cloud-init", "status", "--long"]);
        expect(status.stdout).toMatch(/status: done/);
        expect(status.stdout).toContain("DataSourceLXD");
        expect(
          (await client.readFile(instance, "/etc/network/interfaces.d/50-cloud-init"))?.toString(),
        ).toContain(`address ${ip}/24`);
        expect(await client.readFile(instance, NETWORK_HOOK)).toBeUndefined();
        expect(
          (await client.exec(instance, ["sh", "-c", "ls /etc/labgate/boot.d | wc -l"])).stdout.trim(),
        ).toBe("0");
        expect((await client.exec(instance, ["ip", "route", "show", "default"])).stdout).toContain(
          `via ${subnet}.1`,
        );
        // /etc/resolv.conf is resolvconf's symlink: read it from inside, as programs do.
        expect((await client.exec(instance, ["cat", "/etc/resolv.conf"])).stdout).toContain(
          `nameserver ${subnet}.1`,
        );
      }
      const unit = await client.exec(`${lab}-app1`, ["systemctl", "is-active", "labgate-sentiment"]);
      expect(unit.stdout.trim()).toBe("active");
      // Nothing failed at boot (binfmt masked) and apt's timers, which would reach out, are masked.
      const system = await client.exec(`${lab}-app1`, ["systemctl", "is-system-running", "--wait"]);
      expect(system.stdout.trim()).toBe("running");
      const timers = await client.exec(`${lab}-app1`, ["systemctl", "is-enabled", "apt-daily.timer"]);
      expect(timers.stdout.trim()).toBe("masked");

      const report = await verifyRoundRobin({
        url: provider.endpoint?.(spec) ?? "",
        expectedBackends: [`${lab}-app1`, `${lab}-app2`],
        requests: 20,
      });
      expect(report.problems).toEqual([]);
      expect(report.counts).toEqual({ [`${lab}-app1`]: 10, [`${lab}-app2`]: 10 });
    }, 600_000);

    it("a second lab up changes nothing", async () => {
      const from = logs.length;
      const again = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log });
      // On failure, show what the run found: the check or verification that said "not done".
      const rerun = again.steps
        .filter((s) => s.outcome !== "already-done")
        .map((s) => `${s.id} ${s.outcome}`);
      expect(rerun, logs.slice(from).join("\n")).toEqual([]);
      expect(again.changed).toBe(false);
      expect(again.steps.every((s) => s.outcome === "already-done")).toBe(true);
    }, 300_000);

    it("drift: haproxy.cfg edited in the LB container and `systemctl reload haproxy`; lab up restores round robin", async () => {
      await expectDriftRepaired({ client, provider, spec, stateDir, lab, log, logs });
    }, 300_000);

    it("lab down leaves no instance and no network", async () => {
      const down = await labDown({ provider, spec, stateDir, gate: autoYesGate(), log });
      expect(down.complete).toBe(true);
      expect((await client.listInstances()).filter((i) => i.config[LAB_MARKER_KEY] === lab)).toEqual([]);
      expect(await client.getNetwork(bridge)).toBeUndefined();
    }, 300_000);
  },
);
