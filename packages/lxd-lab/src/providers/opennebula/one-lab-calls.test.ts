import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenNebulaAdapter, OpenNebulaClient, oneVmInstantiation } from "@labgate/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { oneLabVmSpec, seedOneLab } from "../../../../core/src/adapters/test-support/one-lab-seed.js";
import { poolStaticNetwork } from "../../../../core/src/adapters/test-support/static-network.js";
import { OneSimulator } from "../../../../core/src/platforms/opennebula/sim/one-simulator.js";
import { autoYesGate } from "../../engine/gate.js";
import type { StepCall } from "../../engine/plan-step.js";
import { describeKnown, planSteps } from "../../engine/plan-view.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import type { ResourceRecord, StepContext } from "../../engine/step.js";
import { userDataFor } from "./one-context.js";
import { createOpenNebulaProvider } from "./one-lab.js";
import { oneLabOptions } from "./one-lab-options.js";
import { defaultVerify, OneLabRuntime } from "./one-lab-runtime.js";
import { type LoopbackLb, startTempLoopbackLb } from "./test-support/loopback-lb.js";
import { simLabPool, simLabSpec } from "./test-support/sim-lab.js";
import { instanceNode } from "./vm-steps.js";

const PASSWORD = "Op3nNebula-calls";
let root: string;
let lb: LoopbackLb;
let sim: OneSimulator;

beforeAll(async () => {
  lb = await startTempLoopbackLb("one-calls-lb-", ["app1", "app2"]);
});
afterAll(() => lb?.stop());
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "one-calls-"));
  sim = new OneSimulator({ users: { oneadmin: PASSWORD }, hosts: [{ name: "lxd-host" }] });
});
afterEach(async () => {
  await sim.stop();
  await rm(root, { recursive: true, force: true });
});

/** A lab on the simulated oned; verification goes to the loopback HAProxy, as simulated VMs serve no HTTP. */
async function lab() {
  const endpoint = await sim.start();
  const spec = simLabSpec({
    endpoint,
    session: `oneadmin:${PASSWORD}`,
    sshPublicKey: "ssh-ed25519 AAAAC3Nza calls@lab",
  });
  const pool = simLabPool(root);
  const provider = createOpenNebulaProvider({
    addressPool: () => pool,
    verify: (target, ctx) => defaultVerify({ ...target, url: lb.url }, ctx),
  });
  const stateDir = join(root, "labs", "lab");
  const run = { provider, spec, stateDir, gate: autoYesGate(), log: () => {} };
  const records = async (): Promise<ResourceRecord[]> =>
    JSON.parse(await readFile(join(stateDir, "state.json"), "utf8")).resources;
  return { endpoint, spec, provider, records, up: () => labUp(run), down: () => labDown(run) };
}

const method = (call: StepCall) => /^one\.[a-z.]+/.exec(call.display)?.[0];
/** OpenNebula's reads: *.info, pool listings and the version. Everything else changes something. */
const reads = (m: string) => /\.info$/.test(m) || m === "one.system.version";

describe("OpenNebula lab: the plan's XML-RPC calls are the calls oned received", () => {
  it("lab up makes the planned changes in plan order and the planned reads; lab down makes the planned undo calls", async () => {
    const { spec, provider, records, up, down } = await lab();
    const planned = (known: ResourceRecord[] = []) =>
      planSteps(provider, spec).map((step) => describeKnown(step, spec, known));
    // Every call of the one.* API is planned as kind "xmlrpc".
    for (const d of planned())
      for (const c of [...d.calls, ...(d.undoCalls ?? [])])
        if (method(c)) expect(c.kind, `${d.id}: ${c.display}`).toBe("xmlrpc");

    expect((await up()).complete).toBe(true);
    const known = await records();
    const shown = planned(known);
    const xmlrpc = (calls: StepCall[]) => calls.filter((c) => c.kind === "xmlrpc").map((c) => method(c)!);
    const plannedUp = shown.flatMap((d) => xmlrpc(d.calls));
    const made = sim.calls.filter((c) => c.ok);
    expect(made.map((c) => c.method).filter((m) => !reads(m))).toEqual(plannedUp.filter((m) => !reads(m)));
    const madeMethods = new Set(made.map((c) => c.method));
    expect(plannedUp.filter((m) => reads(m) && !madeMethods.has(m))).toEqual([]);

    // The instantiate calls as shown (recorded addresses filled in) name the VM and the address oned got.
    for (const c of made.filter((x) => x.method === "one.template.instantiate")) {
      const [, name, , extra] = c.params as [number, string, boolean, string];
      const ip = known.find((r) => r.kind === "ip" && `lab-${r.data?.name}` === name)?.id;
      expect(ip, name).toBeDefined();
      expect(extra).toContain(`<IP>${ip}</IP>`);
      const display = shown.flatMap((d) => d.calls).find((x) => x.display.includes(`"${name}"`))?.display;
      expect(display).toContain(`NIC IP=${ip},`);
    }

    // The vnet as shown holds one range per recorded address, as the template oned received does.
    const vnet = made.find((c) => c.method === "one.vn.allocate")?.params[0];
    const vnetShown = shown.find((d) => d.id === "one-vnet")?.calls[0]?.display;
    for (const ip of known.filter((r) => r.kind === "ip").map((r) => r.id)) {
      expect(vnet).toContain(`<IP>${ip}</IP>`);
      expect(vnetShown).toContain(`AR=[TYPE=IP4,IP=${ip},SIZE=1]`);
    }

    // lab down undoes in reverse plan order: each step's planned undo calls, nothing else changed.
    const before = sim.calls.length;
    expect((await down()).complete).toBe(true);
    const undone = sim.calls.slice(before).filter((c) => c.ok && !reads(c.method));
    const plannedDown = shown.toReversed().flatMap((d) => xmlrpc(d.undoCalls ?? []));
    expect(undone.map((c) => c.method)).toEqual(plannedDown.filter((m) => !reads(m)));
    // Each terminate-hard names the VM the undo gate showed (the ids recorded by lab up).
    const shownTerminates = shown
      .toReversed()
      .flatMap((d) => (d.undoCalls ?? []).map((c) => c.display).filter((x) => x.startsWith("one.vm.action")));
    expect(
      undone
        .filter((c) => c.method === "one.vm.action")
        .map((c) => `one.vm.action("${c.params[0]}", ${c.params[1]})  # until DONE`),
    ).toEqual(shownTerminates);
    expect(shownTerminates).toHaveLength(3);
  }, 60_000);
});

describe("lab and deploy create OpenNebula VMs through the same core function", () => {
  it("every one.template.instantiate oned received is core's oneVmInstantiation of the lab's or the adapter's node", async () => {
    const { endpoint, spec, records, up } = await lab();
    expect((await up()).complete).toBe(true);
    const client = new OpenNebulaClient({ endpoint, session: `oneadmin:${PASSWORD}`, env: {} });
    const template = await seedOneLab(client);
    const deploy = oneLabVmSpec("deploy-vm", template, poolStaticNetwork("192.168.3.34", ["8.8.8.8"]));
    const adapter = new OpenNebulaAdapter({ spec: deploy, client, pollIntervalMs: 5 });
    const ref = await adapter.create(deploy);
    await adapter.waitUntilRunning(ref, { timeoutMs: 5_000, intervalMs: 5 });

    const made = sim.calls.filter((c) => c.ok && c.method === "one.template.instantiate");
    expect(made.map((c) => c.params[1])).toEqual(["lab-app1", "lab-app2", "lab-lb", "deploy-vm"]);
    // The lab's VMs: its node for each (template, address, payload) as core renders it.
    const known = await records();
    const ctx = {
      spec,
      resources: (kind?: string) => known.filter((r) => kind === undefined || r.kind === kind),
    } as unknown as StepContext;
    const rt = new OneLabRuntime(oneLabOptions(spec), {});
    const o = rt.options;
    for (const inst of [...o.apps, o.lb]) {
      const call = made.find((c) => c.params[1] === inst.vmName)!;
      const ip = rt.addresses(ctx).get(inst.name)!.ip;
      const node = instanceNode(rt, inst, ip, call.params[0] as number, await userDataFor(rt, ctx, inst));
      expect(call.params).toEqual(oneVmInstantiation(node).params);
    }
    // The deployment's VM: the adapter's node with the claim it recorded.
    const claim = String(ref.location?.intent);
    expect(made.at(-1)?.params).toEqual(oneVmInstantiation(adapter.node(deploy, claim)).params);
    // And neither builds the call itself: core's instantiateOneVm is the only caller of templateInstantiate.
    const adapterFile = join(import.meta.dirname, "../../../../core/src/adapters/opennebula.ts");
    const labFiles = (await readdir(import.meta.dirname))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .map((f) => join(import.meta.dirname, f));
    const texts = await Promise.all([adapterFile, ...labFiles].map((f) => readFile(f, "utf8")));
    for (const [i, text] of texts.entries())
      expect(text, [adapterFile, ...labFiles][i]).not.toMatch(
        /templateInstantiate\(|"one\.template\.instantiate"/,
      );
    expect(texts[0]).toContain("instantiateOneVm(");
    expect(await readFile(join(import.meta.dirname, "vm-steps.ts"), "utf8")).toContain("instantiateOneVm(");
  }, 60_000);
});
