import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  clearRegisteredSecrets,
  ExitCode,
  type LabgateError,
  OpenNebulaClient,
  REDACTED,
  type Runner,
  toTemplateXml,
} from "@labgate/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  OneSimulator,
  type OneSimulatorOptions,
} from "../../../../core/src/platforms/opennebula/sim/one-simulator.js";
import { autoYesGate } from "../../engine/gate.js";
import { describePlan } from "../../engine/plan-view.js";
import { labDown, labUp } from "../../engine/run-lab.js";
import type { LabStep } from "../../engine/step.js";
import type { LabSpec } from "../../spec/lab-spec.js";
import { createOpenNebulaProvider } from "./one-lab.js";
import { defaultVerify, type OneLabDeps, type VerifyTarget } from "./one-lab-runtime.js";
import { type LoopbackLb, startTempLoopbackLb } from "./test-support/loopback-lb.js";
import { simLabPool, simLabSpec } from "./test-support/sim-lab.js";

const PASSWORD = "Op3nNebula-s3cret";
let root: string;
let sim: OneSimulator | undefined;
let lb: LoopbackLb;
let logs: string[];
let verifyTargets: VerifyTarget[];

beforeAll(async () => {
  lb = await startTempLoopbackLb("one-lb-", ["app1", "app2"]);
});
afterAll(() => lb?.stop());
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "one-lab-"));
  logs = [];
  verifyTargets = [];
});
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  clearRegisteredSecrets();
  await rm(root, { recursive: true, force: true });
});

/**
 * Stands in for SSH to the OpenNebula host, which cannot exist here: records every command and
 * answers the existence checks from what earlier commands added, like the host would.
 */
function recordingRunner(): Runner & { commands: string[] } {
  const commands: string[] = [];
  const present = new Set<string>();
  return {
    target: "root@192.168.3.20:22",
    commands,
    describe: (cmd, args) => [cmd, ...args].join(" "),
    async close() {},
    async run(cmd, args) {
      const line = [cmd, ...args].join(" ");
      commands.push(line);
      // lxc config device VERB CONTAINER DEVICE ... | iptables -t nat OP RULE...
      const op = cmd === "lxc" ? args[2] : cmd === "iptables" ? args[2] : "other";
      const key = cmd === "lxc" ? `lxc ${args[3]} ${args[4]}` : `iptables ${args.slice(3).join(" ")}`;
      let exitCode = 0;
      if (op === "get" || op === "-C") exitCode = present.has(key) ? 0 : 1;
      else if (op === "add" || op === "-A") present.add(key);
      else if (op === "remove" || op === "-D") present.delete(key);
      return { stdout: "", stderr: exitCode ? "not found" : "", exitCode, command: line, durationMs: 1 };
    },
  };
}

async function setup(
  simOptions: OneSimulatorOptions,
  options: Record<string, unknown> = {},
  session: string | null = `oneadmin:${PASSWORD}`,
  runner?: Runner,
  deps: OneLabDeps = {},
) {
  sim = new OneSimulator({ users: { oneadmin: PASSWORD }, ...simOptions });
  const endpoint = await sim.start();
  // `expose` belongs to lb, everything else to providerOptions.
  const { expose, ...providerOptions } = options;
  const spec = simLabSpec(
    { endpoint, ...(session ? { session } : {}), hostErrorGraceMs: 100, ...providerOptions },
    expose ? { expose: expose as { address: string; port: number } } : {},
  );
  const pool = simLabPool(root);
  const provider = createOpenNebulaProvider({
    addressPool: () => pool,
    // Host preparation is tested in host-prep/ (its probes over a real sshd, its changes on a host model); here the runner is a recorder.
    ...(runner ? { runner: () => runner, hostPrepSteps: () => [] } : {}),
    // Simulated VMs cannot serve HTTP: verification goes to the loopback HAProxy + apps instead of
    // the LB's address, and the test checks the provider asked for the right target.
    verify: (target, ctx) => {
      verifyTargets.push(target);
      return defaultVerify({ ...target, url: lb.url }, ctx);
    },
    ...deps,
  });
  const stateDir = join(root, "labs", "lab");
  const run = (signal?: AbortSignal) =>
    labUp({
      provider,
      spec,
      stateDir,
      gate: autoYesGate(),
      log: (l) => logs.push(l),
      ...(signal ? { signal } : {}),
    });
  const down = () => labDown({ provider, spec, stateDir, gate: autoYesGate(), log: (l) => logs.push(l) });
  const state = () => readFile(join(stateDir, "state.json"), "utf8");
  return { sim, spec, pool, run, down, state };
}

function b64(text: string) {
  return Buffer.from(text, "base64").toString("utf8");
}

describe("OpenNebula lab plan", () => {
  it("is pure and orders preflight, host preparation, host, network, image, templates, VMs, exposure, verify", () => {
    const spec: LabSpec = {
      name: "lab",
      provider: "opennebula",
      network: { cidr: "192.168.3.0/24", dhcp: false },
      apps: { count: 2, ports: [8000, 8001], namePrefix: "app" },
      lb: { port: 8080, statsPort: 8404, name: "lb", expose: { address: "192.168.3.20", port: 80 } },
      image: "ubuntu:22.04",
      slos: [],
      // Nothing listens here and nothing may connect: planning must not touch the network.
      providerOptions: { host: "192.168.3.10", hostName: "192.168.3.20", ssh: { host: "192.168.3.20" } },
    };
    const steps = describePlan(createOpenNebulaProvider(), spec).steps;
    const ids = steps.map((s) => s.id);
    // The commands shown are ones a user can paste: `labgate ip allocate` takes the network as --network.
    expect(steps.find((s) => s.id === "one-addresses")?.commands).toContain(
      "labgate ip allocate --network 192.168.3.0/24 --owner lab:lab/lab-app1",
    );
    expect(ids[0]).toBe("one-preflight");
    // Nothing runs on the host before its SSH host key is verified.
    expect(ids[1]).toBe("one-ssh");
    expect(ids.indexOf("one-host")).toBeGreaterThan(1);
    expect(ids.slice(ids.indexOf("one-host"))).toEqual([
      "one-host",
      "one-addresses",
      "one-vnet",
      "one-image",
      "one-template-app",
      "one-template-lb",
      "one-vm-app1",
      "one-vm-app2",
      "one-vm-lb",
      "one-expose",
      "one-verify",
    ]);
    expect(ids.slice(1, ids.indexOf("one-host")).length).toBeGreaterThanOrEqual(3);
  });
});

describe("OpenNebula lab against the simulator", () => {
  it("builds the whole lab, re-runs without changes, and tears it down", async () => {
    const { sim, run, down, pool, state } = await setup({ hosts: [{ name: "lxd-host" }] });
    const first = await run();
    expect(first.complete).toBe(true);
    expect(sim.vms.map((v) => [v.name, v.state, v.lcm])).toEqual([
      ["lab-app1", 3, 3],
      ["lab-app2", 3, 3],
      ["lab-lb", 3, 3],
    ]);
    const ips = (await pool.list()).map((a) => [a.owner, a.ip]);
    expect(ips).toEqual([
      ["lab:lab/lab-app1", "192.168.3.100"],
      ["lab:lab/lab-app2", "192.168.3.101"],
      ["lab:lab/lab-lb", "192.168.3.102"],
    ]);
    expect(sim.vms.map((v) => v.nics[0]!.ip)).toEqual(["192.168.3.100", "192.168.3.101", "192.168.3.102"]);
    expect(sim.vnets).toHaveLength(1);
    expect(sim.vnets[0]!.name).toBe("vnet-lxd");
    expect(sim.vnets[0]!.ars.map((a) => [a.ip, a.size])).toEqual([
      ["192.168.3.100", 1],
      ["192.168.3.101", 1],
      ["192.168.3.102", 1],
    ]);
    expect(sim.templates.map((t) => t.name)).toEqual(["tpl-app", "tpl-lb"]);
    // Templates and VMs alike: NETWORK, the key, the containers-only placement, and the payload as
    // START_SCRIPT_BASE64 (run by every context version; USER_DATA is not sent: 6.8 and 6.10.0 ignore it).
    const contexts = [
      ...sim.templates.map((t) => ["template", t.name, t.template.CONTEXT]),
      ...sim.vms.map((v) => ["vm", v.name, v.template.CONTEXT]),
    ] as Array<[string, string, Record<string, string>]>;
    const data = new Map<string, string>();
    for (const [kind, name, context] of contexts) {
      expect(context, `${kind} ${name}`).toMatchObject({
        NETWORK: "YES",
        SSH_PUBLIC_KEY: "ssh-ed25519 AAAAC3Nza test@lab",
      });
      expect(context.USER_DATA, `${kind} ${name}`).toBeUndefined();
      const text = b64(context.START_SCRIPT_BASE64!);
      expect(text, `${kind} ${name}`).toMatch(/^#!\/bin\/sh\n/);
      data.set(`${kind} ${name}`, text);
    }
    for (const t of sim.templates) expect(t.template.SCHED_REQUIREMENTS).toBe('HYPERVISOR="lx*"');
    // What the 6.8 guest's context package (addon-context-linux) runs: the network and the start script.
    for (const v of sim.vms) {
      const runs = sim.contextRuns(v.id);
      expect(runs.network).toBe(true);
      expect(runs.startScript).toMatch(/^#!\/bin\/sh/);
      expect(runs.ignored).toEqual([]);
    }
    // oned regenerated ETH0_* from the NIC, AR and vnet (GATEWAY/DNS/NETWORK_MASK live on the vnet).
    expect(sim.vms[0]!.template.CONTEXT).toMatchObject({
      ETH0_IP: "192.168.3.100",
      ETH0_GATEWAY: "192.168.3.1",
    });
    const decodedFiles = (script: string) =>
      [...script.matchAll(/printf '%s' '?([A-Za-z0-9+/=]+)'? \| base64 -d/g)]
        .map((m) => Buffer.from(m[1]!, "base64").toString("utf8"))
        .join("\n");
    for (const [k, v] of data) data.set(k, `${v}\n${decodedFiles(v)}`);
    expect(data.get("vm lab-app1")).toContain("--name app1 --host 0.0.0.0 --port 8000");
    expect(data.get("vm lab-app2")).toContain("--name app2 --host 0.0.0.0 --port 8001");
    for (const lbData of [data.get("vm lab-lb"), data.get("template tpl-lb")]) {
      expect(lbData).toContain("192.168.3.100:8000");
      expect(lbData).toContain("192.168.3.101:8001");
    }
    expect(verifyTargets[0]).toEqual({
      url: "http://192.168.3.102:8080/",
      expectedBackends: ["app1", "app2"],
    });
    // Exported from the Linux Containers marketplace, as Sunstone does: PATH is the app's complete URL.
    expect(sim.images.map((i) => [i.name, i.state])).toEqual([["labgate-ubuntu-22.04", 1]]);
    expect(sim.images[0]!.path).toMatch(
      /^lxd:\/\/https:\/\/images\.linuxcontainers\.org\/images\/ubuntu\/jammy\/amd64\/default\/[^/]+\/rootfs\.tar\.xz\?size=\d+/,
    );
    expect(sim.images[0]!.template.FROM_APP).toBeDefined();
    const st = JSON.parse(await state());
    expect(
      st.resources.filter((r: { kind: string }) => r.kind === "one-vm").map((r: { id: string }) => r.id),
    ).toEqual(["0", "1", "2"]);

    const creating = [
      "one.vn.allocate",
      "one.image.allocate",
      "one.template.allocate",
      "one.template.instantiate",
    ];
    const before = creating.map((m) => sim.count(m));
    expect(before).toEqual([1, 1, 2, 3]);
    const second = await run();
    expect(second.changed).toBe(false);
    expect(second.steps.every((s) => s.outcome === "already-done")).toBe(true);
    expect(creating.map((m) => sim.count(m))).toEqual(before);

    await down();
    expect(sim.vms.every((v) => v.state === 6)).toBe(true);
    expect(sim.vnets).toEqual([]);
    expect(sim.templates).toEqual([]);
    expect(sim.images).toEqual([]);
    expect(await pool.list()).toEqual([]);
  });

  it("lab down releases addresses an older labgate recorded under the lab:<lab>:<vm> owner form", async () => {
    const { run, down, pool, spec } = await setup({ hosts: [{ name: "lxd-host" }] });
    expect((await run()).complete).toBe(true);
    // Rewrite the ledger and the lab's records as labgate wrote them before owners were unified.
    const stateFile = join(root, "labs", "lab", "state.json");
    for (const a of await pool.list()) {
      const vm = a.owner.slice("lab:lab/lab-".length);
      await pool.release({ owner: a.owner });
      expect((await pool.allocate(spec.network.cidr, `lab:lab:${vm}`)).ip).toBe(a.ip);
    }
    await writeFile(
      stateFile,
      (await readFile(stateFile, "utf8")).replaceAll('"owner": "lab:lab/lab-', '"owner": "lab:lab:'),
    );
    expect((await readFile(stateFile, "utf8")).match(/"owner": "lab:lab:/g)).toHaveLength(3);
    expect((await pool.list()).map((a) => a.owner)).toEqual(["lab:lab:app1", "lab:lab:app2", "lab:lab:lb"]);

    await down();
    expect(await pool.list()).toEqual([]);
  });

  it("uses the LXC driver on OpenNebula 6.10 and refuses an explicit lxd driver there", async () => {
    const { run, sim } = await setup({ oneVersion: "6.10.0", hosts: [{ name: "lxc-host" }] });
    await run();
    expect(sim.vms.every((v) => v.lcm === 3)).toBe(true);
    await sim.stop();
    const again = await setup({ oneVersion: "6.10.0", hosts: [{ name: "lxc-host" }] }, { hostDriver: "lxd" });
    const error = (await again.run().catch((e: unknown) => e)) as LabgateError & { cause: LabgateError };
    expect(error.cause.code).toBe("ONE_DRIVER_UNSUPPORTED");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
  });

  it("refuses a template an older labgate made with USER_DATA only, saying why and how to fix it", async () => {
    const { run, spec } = await setup({ hosts: [{ name: "lxd-host" }] });
    const client = new OpenNebulaClient({
      endpoint: String(spec.providerOptions?.endpoint),
      session: `oneadmin:${PASSWORD}`,
      env: {},
    });
    await client.templateAllocate(
      toTemplateXml({
        NAME: "tpl-app",
        LABGATE_LAB: "lab",
        CONTEXT: { NETWORK: "YES", USER_DATA: "I2Nsb3VkLWNvbmZpZw==", USER_DATA_ENCODING: "base64" },
      }),
    );
    const error = (await run().catch((e: unknown) => e)) as LabgateError & { cause: LabgateError };
    expect(error.cause.code).toBe("ONE_TEMPLATE_MISMATCH");
    expect(error.cause.hint).toMatch(/older labgate .*USER_DATA.*onetemplate delete 0/);
  });

  it("takes a VM in transient ACTIVE/UNKNOWN (lost monitoring) for what it is, not for a failure", async () => {
    const { run } = await setup({ hosts: [{ name: "lxd-host" }], unknownBlips: ["lab-lb"] });
    expect((await run()).complete).toBe(true);
    expect(logs.some((l) => /lab-lb: monitoring lost \(ACTIVE\/UNKNOWN\)/.test(l))).toBe(true);
  });

  it("accepts the lxc driver on 6.8 (it exists from 6.0; only lxd was removed, in 6.10)", async () => {
    const { run, sim } = await setup({ hosts: [{ name: "lxc-host", vmMad: "lxc" }] }, { hostDriver: "lxc" });
    expect((await run()).complete).toBe(true);
    expect(sim.version).toBe("6.8.3");
    expect(sim.vms.every((v) => v.lcm === 3)).toBe(true);
  });

  it("adds the configured host and stops at ONE_HOST_ERROR when monitoring fails", async () => {
    const { run, sim } = await setup({ failingHosts: ["192.168.3.20"] }, { hostName: "192.168.3.20" });
    const error = (await run().catch((e: unknown) => e)) as LabgateError & {
      cause: LabgateError;
      stepId: string;
    };
    expect(error.stepId).toBe("one-host");
    expect(error.cause.code).toBe("ONE_HOST_ERROR");
    expect(error.message).toMatch(/192\.168\.3\.20.*ERROR.*Permission denied/);
    expect(error.hint).toMatch(/getfacl/);
    expect(sim.count("one.host.allocate")).toBe(1);
    expect(sim.count("one.template.instantiate")).toBe(0);
  });

  it("collects host diagnostics over SSH when the added host goes to ERROR", async () => {
    const ssh = recordingRunner();
    const { run } = await setup(
      { failingHosts: ["192.168.3.20"] },
      { hostName: "192.168.3.20", ssh: { host: "192.168.3.20" } },
      undefined,
      ssh,
    );
    const error = (await run().catch((e: unknown) => e)) as LabgateError & {
      cause: LabgateError;
      stepId: string;
    };
    expect(error.stepId).toBe("one-host");
    expect(error.cause.code).toBe("ONE_HOST_ERROR");
    expect(ssh.commands.some((c) => c.startsWith("onehost show 192.168.3.20"))).toBe(true);
    expect(ssh.commands.some((c) => c.includes("/var/log/one/oned.log"))).toBe(true);
    expect(String((error.details as { output?: string }).output)).toMatch(/onehost show/);
  });

  it("lets host preparation repair a host in ERROR: preflight goes on, oned restarts, the host recovers", async () => {
    const ssh = recordingRunner();
    const restarts: string[] = [];
    let simulator: OneSimulator | undefined;
    // Stands in for the host-prep steps (tested against a real sshd in host-prep/): it restarts OpenNebula,
    // which closes the XML-RPC port for a while, as `systemctl restart opennebula` does.
    const restart: LabStep<undefined> = {
      description: {
        id: "host-restart-opennebula",
        title: "Restart OpenNebula (stand-in)",
        why: "test",
        calls: [{ display: "systemctl restart opennebula", kind: "command", where: "host" }],
      },
      actions: {
        check: async () => ({ done: restarts.length > 0, facts: undefined }),
        async apply() {
          restarts.push("restart");
          void simulator!.restart(300);
        },
        async verify() {},
        async undo() {},
      },
    };
    const { run, sim } = await setup(
      // ERROR until oned's monitoring runs a few more times after the fix.
      { hosts: [{ name: "192.168.3.20", state: "ERROR", recoverAfter: 8 }] },
      { hostName: "192.168.3.20", ssh: { host: "192.168.3.20" }, hostErrorGraceMs: 3_000 },
      undefined,
      ssh,
      { hostPrepSteps: () => [restart] },
    );
    simulator = sim;
    const result = await run();
    expect(result.complete).toBe(true);
    expect(restarts).toEqual(["restart"]);
    expect(logs.join("\n")).toMatch(/host 192\.168\.3\.20 ERROR \(host preparation over SSH follows\)/);
    expect(logs.join("\n")).toMatch(/OpenNebula does not answer yet/);
    // The wait saw ERROR and sat it out instead of failing.
    expect(logs).toContain("  host 192.168.3.20: ERROR");
    expect(sim.hosts[0]!.state).toBe(2);
    expect(sim.count("one.host.allocate")).toBe(0);
    expect(sim.vms.every((v) => v.lcm === 3)).toBe(true);
  });

  it("without SSH access, stops at preflight on a host in ERROR", async () => {
    const { run, sim } = await setup(
      { hosts: [{ name: "192.168.3.20", state: "ERROR", recoverAfter: 100 }] },
      { hostName: "192.168.3.20" },
    );
    const error = (await run().catch((e: unknown) => e)) as LabgateError & {
      cause: LabgateError;
      stepId: string;
    };
    expect(error.stepId).toBe("one-preflight");
    expect(error.cause.code).toBe("ONE_HOST_ERROR");
    expect(sim.count("one.vn.allocate")).toBe(0);
  });

  it("reports BOOT_FAILURE with the VM ID already recorded", async () => {
    const { run, sim, state } = await setup({ hosts: [{ name: "lxd-host" }], bootFailures: ["lab-app2"] });
    const error = (await run().catch((e: unknown) => e)) as LabgateError & {
      cause: LabgateError;
      stepId: string;
    };
    expect(error.stepId).toBe("one-vm-app2");
    expect(error.cause.code).toBe("ONE_VM_FAILED");
    expect(error.message).toMatch(/ACTIVE\/BOOT_FAILURE/);
    const st = JSON.parse(await state());
    expect(st.resources).toContainEqual(
      expect.objectContaining({ kind: "one-vm", id: "1", stepId: "one-vm-app2" }),
    );
    expect(sim.count("one.template.instantiate")).toBe(2);
  });

  it("lab down deletes a VM stuck in BOOT_FAILURE (recover --delete) and waits for DONE before the image and vnet", async () => {
    const { run, down, sim } = await setup({
      hosts: [{ name: "lxd-host" }],
      bootFailures: ["lab-app2"],
    });
    await run().catch(() => undefined);
    expect(sim.vms.map((v) => [v.name, v.lcm])).toEqual([
      ["lab-app1", 3],
      ["lab-app2", 36], // BOOT_FAILURE
    ]);
    await down();
    // Deleting is asynchronous too (CLEANUP_DELETE → DONE): the image and vnet are deleted only after DONE.
    expect(sim.count("one.vm.recover")).toBe(1);
    expect(sim.vms.map((v) => v.state)).toEqual([6, 6]);
    expect(sim.images).toEqual([]);
    expect(sim.vnets).toEqual([]);
    expect(logs.some((l) => /one\.vm\.recover\(1, 3\)/.test(l))).toBe(true);
  });

  it("lab up does not adopt a same-named VM that is still shutting down: it waits for DONE and creates a new one", async () => {
    const { run, sim, spec } = await setup({ hosts: [{ name: "lxd-host" }] });
    expect((await run()).complete).toBe(true);
    const client = new OpenNebulaClient({
      endpoint: String(spec.providerOptions?.endpoint),
      session: `oneadmin:${PASSWORD}`,
      env: {},
    });
    const old = sim.vms.find((v) => v.name === "lab-lb")!.id;
    await client.vmAction("terminate-hard", old);
    expect((await client.vmInfo(old)).label).toBe("ACTIVE/SHUTDOWN");
    // (The info call above was a monitoring tick: the old VM is in EPILOG when lab up finds it.)
    const again = await run();
    expect(again.complete).toBe(true);
    const lbs = sim.vms.filter((v) => v.name === "lab-lb");
    expect(lbs.map((v) => [v.id, v.state, v.lcm])).toEqual([
      [old, 6, 0],
      [3, 3, 3],
    ]);
    expect(lbs[1]!.nics[0]!.ip).toBe("192.168.3.102");
    expect(
      logs.some((l) => /lab-lb: VM 2 of the same name is ACTIVE\/EPILOG; waiting until it is DONE/.test(l)),
    ).toBe(true);
  });

  it("stops at the image step when OpenNebula cannot download the image, recording its ID", async () => {
    const { run, sim, state } = await setup({
      hosts: [{ name: "lxd-host" }],
      failingImages: ["labgate-ubuntu-22.04"],
    });
    const error = (await run().catch((e: unknown) => e)) as LabgateError & {
      cause: LabgateError;
      stepId: string;
    };
    expect(error.stepId).toBe("one-image");
    expect(error.cause.code).toBe("ONE_IMAGE_ERROR");
    expect(JSON.parse(await state()).resources).toContainEqual(
      expect.objectContaining({ kind: "one-image", id: "0" }),
    );
    expect(sim.count("one.template.allocate")).toBe(0);
  });

  it("keeps a session given in the spec out of logs, errors and recorded resources", async () => {
    const { run, state } = await setup({ hosts: [{ name: "lxd-host" }], bootFailures: ["lab-lb"] });
    const error = (await run().catch((e: unknown) => e)) as LabgateError;
    const st = JSON.parse(await state());
    const printed = [
      JSON.stringify(st.spec),
      error.message,
      error.hint,
      JSON.stringify(error),
      ...logs,
      JSON.stringify(st.resources),
      JSON.stringify(st.steps),
    ].join("\n");
    expect(printed).toContain("lab-lb");
    expect(printed).not.toContain(PASSWORD);
  });

  it("refuses wrong credentials at preflight without printing or storing them", async () => {
    const { run } = await setup({ hosts: [{ name: "lxd-host" }] }, {}, "oneadmin:Wr0ng-passw0rd");
    const error = (await run().catch((e: unknown) => e)) as LabgateError & {
      cause: LabgateError;
      stepId: string;
    };
    expect(error.stepId).toBe("one-preflight");
    expect(error.cause.code).toBe("ONE_AUTH_FAILED");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
    const printed = [
      error.message,
      error.hint,
      JSON.stringify(error),
      JSON.stringify(error.details),
      ...logs,
    ].join("\n");
    expect(printed).not.toContain("Wr0ng-passw0rd");
  });

  it("takes the session from the environment when the spec's was redacted (a spec recorded in state.json)", async () => {
    vi.stubEnv("ONE_SESSION", "");
    vi.stubEnv("ONE_AUTH", "");
    vi.stubEnv("HOME", root);
    try {
      const { run } = await setup({ hosts: [{ name: "lxd-host" }] }, {}, REDACTED);
      const error = (await run().catch((e: unknown) => e)) as LabgateError & { cause: LabgateError };
      expect(error.cause.code).toBe("ONE_SESSION_MISSING");
      expect(error.cause.message).toMatch(/state\.json/);
      expect(error.cause.hint).toMatch(/ONE_SESSION=/);
      expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
      vi.stubEnv("ONE_SESSION", `oneadmin:${PASSWORD}`);
      expect((await run()).complete).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("stops at preflight with ONE_UNREACHABLE when nothing listens on the endpoint", async () => {
    const { run, sim } = await setup({ hosts: [{ name: "lxd-host" }] });
    await sim.stop();
    const error = (await run().catch((e: unknown) => e)) as LabgateError & {
      cause: LabgateError;
      stepId: string;
    };
    expect(error.stepId).toBe("one-preflight");
    expect(error.cause.code).toBe("ONE_UNREACHABLE");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
  });

  it("resumes an interrupted run without duplicating anything, and never leaks the session", async () => {
    // The recommended way: the session in an ONE_AUTH-style file, never in lab.yaml.
    const authFile = join(root, "one_auth");
    await writeFile(authFile, `oneadmin:${PASSWORD}\n`, { mode: 0o600 });
    const { run, sim, state } = await setup(
      { hosts: [{ name: "lxd-host" }], ticksPerTransition: 3 },
      { authFile },
      null,
    );
    const abort = new AbortController();
    const watcher = setInterval(() => {
      if (logs.some((l) => l.includes("lab-app2: ACTIVE/PROLOG"))) abort.abort();
    }, 2);
    const first = await run(abort.signal).catch((e: unknown) => e);
    clearInterval(watcher);
    expect((first as LabgateError).code).toBe("INTERRUPTED");
    expect(sim.count("one.template.instantiate")).toBe(2);
    const recorded = JSON.parse(await state()).resources.filter((r: { kind: string }) => r.kind === "one-vm");
    expect(recorded.map((r: { id: string }) => r.id)).toEqual(["0", "1"]);

    const second = await run();
    expect(second.complete).toBe(true);
    expect(sim.count("one.template.instantiate")).toBe(3);
    expect(sim.count("one.vn.allocate")).toBe(1);
    expect(sim.count("one.template.allocate")).toBe(2);
    expect(sim.vms.map((v) => v.name)).toEqual(["lab-app1", "lab-app2", "lab-lb"]);

    const everything = [...logs, await state()].join("\n");
    expect(everything).not.toContain(PASSWORD);
    // The wire carries it (that is how OpenNebula authenticates), which shows the check above can fail.
    expect(sim.requests.some((r) => r.includes(PASSWORD))).toBe(true);
  });

  it("exposes the LB with an LXD proxy device on 6.8 and a DNAT rule on 6.10, once", async () => {
    const expose = { address: "192.168.3.20", port: 18080 };
    const ssh = { host: "192.168.3.20", user: "root" };
    const lxd = recordingRunner();
    const a = await setup({ hosts: [{ name: "lxd-host" }] }, { expose, ssh }, undefined, lxd);
    await a.run();
    expect(lxd.commands.filter((c) => c.includes(" add "))).toEqual([
      "lxc config device add one-2 labgate-expose proxy listen=tcp:192.168.3.20:18080 connect=tcp:192.168.3.102:8080",
    ]);
    expect(verifyTargets[0]!.url).toBe("http://192.168.3.20:18080/");
    const adds = lxd.commands.length;
    await a.run();
    expect(lxd.commands.slice(adds).some((c) => c.includes(" add "))).toBe(false);
    await a.down();
    expect(lxd.commands.at(-1)).toBe("lxc config device remove one-2 labgate-expose");
    await sim!.stop();
    await rm(join(root, "labs"), { recursive: true, force: true });
    await rm(join(root, "ip-pool.json"), { force: true });

    const lxc = recordingRunner();
    const b = await setup(
      { oneVersion: "6.10.0", hosts: [{ name: "lxc-host" }] },
      { expose, ssh },
      undefined,
      lxc,
    );
    await b.run();
    expect(lxc.commands.filter((c) => c.includes(" -A ") || c.startsWith("sysctl"))).toEqual([
      "sysctl -w net.ipv4.ip_forward=1",
      "iptables -t nat -A PREROUTING -p tcp -d 192.168.3.20 --dport 18080 -j DNAT --to-destination 192.168.3.102:8080 -m comment --comment labgate-expose",
      "iptables -t nat -A OUTPUT -p tcp -d 192.168.3.20 --dport 18080 -j DNAT --to-destination 192.168.3.102:8080 -m comment --comment labgate-expose",
    ]);
  });
});
