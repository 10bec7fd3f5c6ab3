import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenNebulaClient } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OneSimulator } from "../../../core/src/platforms/opennebula/sim/one-simulator.js";
import { autoYesGate } from "../engine/gate.js";
import { LabStateStore } from "../engine/lab-state.js";
import { labUp } from "../engine/run-lab.js";
import { createStepContext } from "../engine/step-context.js";
import { createOpenNebulaProvider } from "../providers/opennebula/one-lab.js";
import { oneLabOptions } from "../providers/opennebula/one-lab-options.js";
import { defaultVerify } from "../providers/opennebula/one-lab-runtime.js";
import { type LoopbackLb, startLoopbackLb } from "../providers/opennebula/test-support/loopback-lb.js";
import { simLabPool, simLabSpec } from "../providers/opennebula/test-support/sim-lab.js";
import type { LabSpec } from "../spec/lab-spec.js";
import { runFaults } from "./fault-runner.js";
import { parseFault } from "./fault-spec.js";
import { faultGateStep, labFaultActuator } from "./lab-faults.js";
import { type OneFaultDeps, oneFaultActuator, oneFaultCalls } from "./one-faults.js";

/**
 * Faults on an OpenNebula lab against the simulator, whose one.vm.action follows
 * src/dm/DispatchManagerActions.cc (poweroff/suspend only from ACTIVE/RUNNING, resume only from
 * POWEROFF/SUSPENDED, each asynchronous through SHUTDOWN_POWEROFF / SAVE_SUSPEND / BOOT_*).
 * Simulated VMs serve no HTTP (and their 192.168.3.x addresses are data only): the app-answers check
 * after resume is the one seam replaced, and it records which address it would have asked.
 */
const PASSWORD = "Op3nNebula-s3cret";
let root: string;
let sim: OneSimulator;
let lb: LoopbackLb;
let spec: LabSpec;
let stateDir: string;
let client: OpenNebulaClient;
const probed: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "lgt-flt-one-"));
  lb = await startLoopbackLb(root, ["app1", "app2"]);
  sim = new OneSimulator({ users: { oneadmin: PASSWORD }, hosts: [{ name: "lxd-host" }] });
  const endpoint = await sim.start();
  spec = simLabSpec({ endpoint, session: `oneadmin:${PASSWORD}`, hostErrorGraceMs: 100 });
  const pool = simLabPool(root);
  const provider = createOpenNebulaProvider({
    addressPool: () => pool,
    verify: (target, ctx) => defaultVerify({ ...target, url: lb.url }, ctx),
  });
  stateDir = join(root, "labs", "lab");
  const up = await labUp({ provider, spec, stateDir, gate: autoYesGate(), log: () => {} });
  expect(up.complete).toBe(true);
  client = new OpenNebulaClient({ endpoint, session: `oneadmin:${PASSWORD}` });
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  await lb?.stop();
  await rm(root, { recursive: true, force: true });
});

async function actuator(deps: Partial<OneFaultDeps> = {}) {
  const store = new LabStateStore(stateDir);
  await store.load();
  const ctx = createStepContext(
    store,
    spec,
    createOpenNebulaProvider(),
    () => {},
    new AbortController().signal,
  );
  return oneFaultActuator(ctx, oneLabOptions(spec), {
    client,
    pollIntervalMs: 5,
    ready: async (app, ip) => {
      probed.push(`${app.name} ${ip}:${app.port}`);
      return undefined;
    },
    ...deps,
  });
}

const vm = (name: string) => sim.vms.find((v) => v.name === name);
const label = async (name: string) => (await client.vmInfo(vm(name)?.id as number)).label;

describe("OpenNebula fault actions (simulator)", () => {
  for (const [action, during] of [
    ["stop", "POWEROFF"],
    ["kill", "POWEROFF"],
    ["pause", "SUSPENDED"],
  ] as const) {
    it(`${action} app2: ${during} while the fault lasts, ACTIVE/RUNNING after resume, app1 untouched`, async () => {
      const act = await actuator();
      const handle = act(parseFault(`${action} app2 at 0s for 1s`));
      await handle.apply();
      expect(await label("lab-app2")).toBe(during);
      expect(await label("lab-app1")).toBe("ACTIVE/RUNNING");
      // A second fault on a VM that is not running is refused by our check before oned is asked.
      await expect(act(parseFault("pause app2 at 0s for 1s")).apply()).rejects.toThrow(
        new RegExp(`lab-app2 \\(VM \\d+\\) is ${during}, so it cannot be suspended`),
      );
      await expect(act(parseFault("pause app2 at 0s for 1s")).apply()).rejects.toMatchObject({
        code: "FAULT_TARGET_STATE",
        hint: expect.stringContaining("labgate lab up"),
      });
      probed.length = 0;
      await handle.undo();
      expect(await label("lab-app2")).toBe("ACTIVE/RUNNING");
      expect(probed).toEqual(["app2 192.168.3.101:8001"]);
      // Undo again: nothing left to resume (resume on a RUNNING VM would be an ACTION error from oned).
      await handle.undo();
      expect(await label("lab-app2")).toBe("ACTIVE/RUNNING");
    });
  }

  it("an app that does not answer after resume is FAULT_NOT_READY with the last problem seen, once the wait is over", async () => {
    let asked = 0;
    const act = await actuator({
      timeoutMs: 150,
      pollIntervalMs: 10,
      ready: async () => `connection refused (try ${++asked})`,
    });
    const handle = act(parseFault("pause app1 at 0s for 1s"));
    await handle.apply();
    const error = await handle.undo().catch((e: unknown) => e);
    expect(await label("lab-app1")).toBe("ACTIVE/RUNNING");
    expect(asked).toBeGreaterThan(1);
    expect(error).toMatchObject({
      code: "FAULT_NOT_READY",
      message: expect.stringMatching(
        new RegExp(
          `^lab-app1 \\(VM \\d+\\) runs again but its app does not answer: connection refused \\(try ${asked}\\)`,
        ),
      ),
      details: { problem: `connection refused (try ${asked})`, timeoutMs: 150 },
    });
  });

  it("the runner undoes a suspend on abort (Ctrl-C) and the VM runs again", async () => {
    const act = await actuator();
    const controller = new AbortController();
    const run = runFaults([parseFault("pause app1 at 0s for 60s")], act, { signal: controller.signal });
    for (let i = 0; i < 400 && (await label("lab-app1")) !== "SUSPENDED"; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await label("lab-app1")).toBe("SUSPENDED");
    controller.abort();
    const result = await run;
    expect(result.interrupted).toBe(true);
    expect(result.timelines[0]?.undoReason).toBe("interrupted");
    expect(await label("lab-app1")).toBe("ACTIVE/RUNNING");
  });

  it("the simulator refuses what oned refuses: resume of a running VM, suspend of a powered-off one", async () => {
    const id = vm("lab-app2")?.id as number;
    await expect(client.vmAction("resume", id)).rejects.toMatchObject({ code: "ONE_WRONG_STATE" });
    await client.vmAction("poweroff", id);
    for (let i = 0; i < 400 && (await label("lab-app2")) !== "POWEROFF"; i++)
      await new Promise((r) => setTimeout(r, 10));
    await expect(client.vmAction("suspend", id)).rejects.toMatchObject({ code: "ONE_WRONG_STATE" });
    // The fault's undo brings back a VM someone else powered off in the meantime, too.
    const act = await actuator();
    await act(parseFault("stop app2 at 0s for 1s")).undo();
    expect(await label("lab-app2")).toBe("ACTIVE/RUNNING");
  });

  it("refuses unknown targets, and drain/delay without host access, before anything runs; the gate names the calls", async () => {
    const target = { spec, provider: createOpenNebulaProvider(), stateDir };
    const faults = ["drain app2 at 1s for 1s", "delay 200ms app1 at 1s for 1s"].map(parseFault);
    for (const f of faults) {
      await expect(
        labFaultActuator(target, () => {}, new AbortController().signal, [f]),
      ).rejects.toMatchObject({
        code: "FAULT_UNSUPPORTED",
      });
    }
    await expect(
      labFaultActuator(target, () => {}, new AbortController().signal, [
        parseFault("stop app9 at 1s for 1s"),
      ]),
    ).rejects.toMatchObject({ code: "FAULT_TARGET_UNKNOWN" });
    const act = await labFaultActuator(target, () => {}, new AbortController().signal, [
      parseFault("stop app2 at 1s for 1s"),
    ]);
    expect(typeof act).toBe("function");
    const gate = faultGateStep([parseFault("kill app2 at 1s for 2s")], target);
    expect(gate.description.calls).toEqual([
      {
        display:
          'kill app2 from 1s to 3s: one.vm.action("poweroff-hard", <VM ID of lab-app2>); one.vm.info until POWEROFF; ' +
          'then one.vm.action("resume", <VM ID of lab-app2>); one.vm.info until ACTIVE/RUNNING; GET http://<lab-app2 address>:8001/health',
        kind: "xmlrpc",
      },
    ]);
    // drain and delay go through the host's container tooling (shown in the lxd form).
    const o = oneLabOptions(spec);
    expect(oneFaultCalls(o, parseFault("drain app2 at 1s for 1s"))).toEqual({
      apply:
        "lxc exec one-<VM ID of lab-lb> -- python3 -c <send to> /run/haproxy/admin.sock 'set server lab_apps/app2 state drain'",
      undo: "lxc exec one-<VM ID of lab-lb> -- python3 -c <send to> /run/haproxy/admin.sock 'set server lab_apps/app2 state ready'",
    });
    expect(oneFaultCalls(o, parseFault("loss 5% app1 at 1s for 1s")).apply).toBe(
      "lxc exec one-<VM ID of lab-app1> -- tc qdisc add dev eth0 root netem loss 5%",
    );
    expect(await label("lab-app2")).toBe("ACTIVE/RUNNING");
  });
});
