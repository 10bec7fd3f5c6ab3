import { afterEach, describe, expect, it } from "vitest";
import type { OpenNebulaError } from "../../../errors.js";
import { clearRegisteredSecrets } from "../../../util/redact.js";
import { OpenNebulaClient } from "../client.js";
import { exportMarketAppImage, findMarketApp, marketSchedRequirements } from "../market-export.js";
import { lcmStateName } from "../states.js";
import { toTemplateXml } from "../template-xml.js";
import { terminateVm } from "../vm-terminate.js";
import { waitForHostMonitored, waitForImageReady, waitForVmDone, waitForVmRunning } from "../wait.js";
import type { SimHypervisor, SimVm } from "./hypervisor.js";
import { OneSimulator, type OneSimulatorOptions } from "./one-simulator.js";
import { startOneSimulator } from "./start-one-simulator.js";

let sim: OneSimulator | undefined;
const fast = { intervalMs: 2, timeoutMs: 5_000 };
const LXD_URL =
  "lxd://https://images.linuxcontainers.org/images/ubuntu/jammy/amd64/default/20261201_07:42/rootfs.tar.xz?size=1024&filesystem=ext4&format=raw";

async function start(options: OneSimulatorOptions = {}) {
  sim = new OneSimulator({ hosts: [{ name: "lxc-host" }], ...options });
  const endpoint = await sim.start();
  return { sim, client: new OpenNebulaClient({ endpoint, session: "oneadmin:opennebula", env: {} }) };
}

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  clearRegisteredSecrets();
});

/** A vnet, an image and a template: what a VM needs. */
async function lab(client: OpenNebulaClient, path = LXD_URL, extra: Record<string, string> = {}) {
  const vnet = await client.vnAllocate(
    toTemplateXml({
      NAME: "net",
      VN_MAD: "bridge",
      BRIDGE: "br0",
      GATEWAY: "10.5.0.1",
      DNS: "10.5.0.2",
      NETWORK_MASK: "255.255.255.0",
      AR: { TYPE: "IP4", IP: "10.5.0.10", SIZE: 5 },
    }),
  );
  const image = await client.imageAllocate(toTemplateXml({ NAME: "img", PATH: path, TYPE: "OS" }), 1);
  await waitForImageReady(client, image, fast);
  const template = await client.templateAllocate(
    toTemplateXml({
      NAME: "tpl",
      DISK: { IMAGE: "img" },
      NIC: { NETWORK: "net" },
      CONTEXT: { NETWORK: "YES", ETH0_GATEWAY: "9.9.9.9" },
      ...extra,
    }),
  );
  return { vnet, image, template };
}

describe("OpenNebula simulator: images as the LXD downloader and the marketplace make them", () => {
  it("fails a directory URL the way lxd_downloader.sh does, and exports a marketplace app to a READY image", async () => {
    const { client } = await start();
    const dir = await client.imageAllocate(
      toTemplateXml({
        NAME: "dir",
        PATH: "lxd://https://images.linuxcontainers.org/images/ubuntu/jammy/amd64/default/",
        TYPE: "OS",
      }),
      1,
    );
    const e = (await waitForImageReady(client, dir, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.code).toBe("ONE_IMAGE_ERROR");
    expect(e.message).toMatch(/names no archive/);

    // No one.marketapp.export in oned: the export is client-side (Ruby OCA); the method is not defined.
    const fault = (await client
      .call("one.marketapp.export", 0, "x", 1)
      .catch((x: unknown) => x)) as OpenNebulaError;
    expect(fault.code).toBe("ONE_PROTOCOL_ERROR");
    const app = await findMarketApp(client, /^ubuntu_jammy(\s|$)/);
    expect(app?.name).toBe("ubuntu_jammy - LXD");
    expect(marketSchedRequirements(app!)).toBe('HYPERVISOR="lx*"');
    const id = await exportMarketAppImage(client, app!, { name: "jammy", datastoreId: 1 });
    const ready = await waitForImageReady(client, id, fast);
    expect(ready.path).toBe(app!.source);
    expect(ready.path).toMatch(/rootfs\.tar\.xz\?size=1024&filesystem=ext4&format=raw$/);
  });

  it("names the 6.10 marketplace apps LXC and pins them to lxc hosts", async () => {
    const { client } = await start({ oneVersion: "6.10.5" });
    const app = await findMarketApp(client, /^ubuntu_jammy(\s|$)/);
    expect(app?.name).toBe("ubuntu_jammy - LXC");
    expect(marketSchedRequirements(app!)).toBe('HYPERVISOR="lxc"');
  });
});

describe("OpenNebula simulator: asynchronous terminate and in-use deletes", () => {
  it("keeps the image and vnet in use until the terminated VM is DONE", async () => {
    const { client } = await start();
    const { vnet, image, template } = await lab(client);
    const vm = await client.templateInstantiate(template, "a");
    await waitForVmRunning(client, vm, fast);
    await client.vmAction("terminate-hard", vm);
    const img = (await client.imageDelete(image).catch((x: unknown) => x)) as OpenNebulaError;
    expect(img.code).toBe("ONE_WRONG_STATE");
    expect(img.message).toMatch(/There are 1 VMs using it/);
    const net = (await client.vnDelete(vnet).catch((x: unknown) => x)) as OpenNebulaError;
    expect(net.message).toMatch(/leases in use/);
    const seen: string[] = [];
    await waitForVmDone(client, vm, { ...fast, onProgress: (s) => seen.push(s) });
    expect(seen).toEqual(["ACTIVE/SHUTDOWN", "ACTIVE/EPILOG"]);
    await client.imageDelete(image);
    await client.vnDelete(vnet);
  });

  it("refuses terminate mid-transition (ONE_WRONG_STATE); terminateVm retries until it is allowed and waits for DONE", async () => {
    const { client } = await start({ ticksPerTransition: 3 });
    const { template } = await lab(client);
    const vm = await client.templateInstantiate(template, "a");
    while ((await client.vmInfo(vm)).label !== "ACTIVE/PROLOG") {}
    const e = (await client.vmAction("terminate-hard", vm).catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.code).toBe("ONE_WRONG_STATE");
    expect(e.message).toMatch(/Could not terminate VM \d+, wrong state ACTIVE\./);
    const steps: string[] = [];
    expect(await terminateVm(client, vm, { ...fast, onStep: (m) => steps.push(m) })).toBe("terminated");
    expect(steps.some((m) => /terminate is not allowed yet/.test(m))).toBe(true);
    expect((await client.vmInfo(vm)).stateName).toBe("DONE");
  });

  it("deletes a VM stuck in a failure state with one.vm.recover(id, 3)", async () => {
    const { client, sim } = await start({ bootFailures: ["bad"] });
    const { template } = await lab(client);
    const vm = await client.templateInstantiate(template, "bad");
    await waitForVmRunning(client, vm, fast).catch(() => undefined);
    expect((await client.vmInfo(vm)).label).toBe("ACTIVE/BOOT_FAILURE");
    expect(await terminateVm(client, vm, fast)).toBe("recovered");
    expect(sim.count("one.vm.recover")).toBe(1);
    expect((await client.vmInfo(vm)).stateName).toBe("DONE");
  });

  it("terminate in a failure state deletes the VM (CLEANUP_DELETE → DONE), as DispatchManager::terminate does", async () => {
    const { client } = await start({ bootFailures: ["bad"], ticksPerTransition: 3 });
    const { image, template } = await lab(client);
    const vm = await client.templateInstantiate(template, "bad");
    await waitForVmRunning(client, vm, fast).catch(() => undefined);
    await client.vmAction("terminate-hard", vm);
    expect((await client.vmInfo(vm)).label).toBe("ACTIVE/CLEANUP_DELETE");
    expect((await client.imageDelete(image).catch((x: unknown) => x)) as OpenNebulaError).toMatchObject({
      code: "ONE_WRONG_STATE",
    });
    expect((await waitForVmDone(client, vm, fast))?.stateName).toBe("DONE");
    await client.imageDelete(image);
  });

  it("calls the hypervisor at deploy and destroy, with the regenerated network context", async () => {
    const calls: string[] = [];
    let deployed: SimVm | undefined;
    const hypervisor: SimHypervisor = {
      deploy: async (vm) => {
        deployed = vm;
        calls.push(`deploy ${vm.id}`);
      },
      destroy: async (id) => {
        calls.push(`destroy ${id}`);
      },
      poweroff: async () => {},
      resume: async () => {},
      suspend: async () => {},
    };
    const { client } = await start({ hypervisor, oneVersion: "7.0" });
    const { template } = await lab(client);
    const vm = await client.templateInstantiate(template, "a");
    await waitForVmRunning(client, vm, fast);
    await terminateVm(client, vm, fast);
    expect(calls).toEqual([`deploy ${vm}`, `destroy ${vm}`]);
    expect(deployed?.oneVersion).toBe("7.0");
    expect(deployed?.imageSource).toBe(LXD_URL);
    // VirtualMachineContext.cc: ETH0_GATEWAY comes from the vnet and replaces the template's.
    expect(deployed?.context.ETH0_GATEWAY).toBe("10.5.0.1");
    expect(deployed?.nics[0]).toMatchObject({
      ip: "10.5.0.10",
      mask: "255.255.255.0",
      gateway: "10.5.0.1",
      dns: "10.5.0.2",
    });
  });
});

describe("OpenNebula simulator: a driver call overtaken by recover --delete", () => {
  it("ignores the late failure of a deploy that recover --delete abandoned", async () => {
    let failDeploy: ((e: Error) => void) | undefined;
    let finishDestroy: (() => void) | undefined;
    const hypervisor: SimHypervisor = {
      deploy: () =>
        new Promise<void>((_resolve, reject) => {
          failDeploy = reject;
        }),
      destroy: () =>
        new Promise<void>((resolve) => {
          finishDestroy = resolve;
        }),
      poweroff: async () => {},
      resume: async () => {},
      suspend: async () => {},
    };
    const { client } = await start({ hypervisor });
    const { template } = await lab(client);
    const vm = await client.templateInstantiate(template, "a");
    while ((await client.vmInfo(vm)).label !== "ACTIVE/BOOT") {}
    await client.vmRecover(vm, 3);
    expect((await client.vmInfo(vm)).label).toBe("ACTIVE/CLEANUP_DELETE");
    failDeploy?.(new Error("container failed to start"));
    await new Promise((r) => setTimeout(r, 20));
    expect((await client.vmInfo(vm)).label).toBe("ACTIVE/CLEANUP_DELETE");
    finishDestroy?.();
    expect((await waitForVmDone(client, vm, fast))?.label).toBe("DONE");
  });
});

describe("OpenNebula simulator: hosts, scheduling, context versions, errors", () => {
  it("schedules by HYPERVISOR: without requirements a container lands on KVM and fails; with them it runs on lxc", async () => {
    const { client } = await start({
      oneVersion: "6.10.5",
      hosts: [{ name: "kvm1", vmMad: "kvm" }, { name: "lxc1" }],
    });
    const { template } = await lab(client);
    const bad = await client.templateInstantiate(template, "a");
    const e = (await waitForVmRunning(client, bad, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.code).toBe("ONE_VM_FAILED");
    expect(e.message).toMatch(/kvm: the disk is a container root file system/);
    await terminateVm(client, bad, fast);
    const pinned = await client.templateAllocate(
      toTemplateXml({
        NAME: "pinned",
        DISK: { IMAGE: "img" },
        NIC: { NETWORK: "net" },
        SCHED_REQUIREMENTS: 'HYPERVISOR="lx*"',
      }),
    );
    const ok = await waitForVmRunning(client, await client.templateInstantiate(pinned, "b"), fast);
    expect(ok.hostname).toBe("lxc1");
  });

  it("reports hosts INIT → MONITORED, and an unknown driver as ERROR at monitoring (not at allocate)", async () => {
    const { client } = await start({ oneVersion: "6.10.0", hosts: [] });
    const seen: string[] = [];
    const h = await client.hostAllocate("h1", "lxc", "lxc");
    await waitForHostMonitored(client, h, { ...fast, onProgress: (s) => seen.push(s) });
    expect(seen).toEqual(["INIT"]);
    const lxd = await client.hostAllocate("h2", "lxd", "lxd");
    const e = (await waitForHostMonitored(client, lxd, fast).catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.message).toMatch(/driver lxd is not defined in oned.conf/);
  });

  it("reads USER_DATA only from one-context 6.10.0-3 on; START_SCRIPT_BASE64 everywhere", async () => {
    const script = Buffer.from("#!/bin/sh\necho hi\n").toString("base64");
    const userData = Buffer.from("#cloud-config\nruncmd: [true]\n").toString("base64");
    const expectations: Array<[OneSimulatorOptions["oneVersion"], boolean]> = [
      ["6.8", false],
      ["6.10.0", false],
      ["6.10.5", true],
      ["7.0", true],
    ];
    for (const [oneVersion, readsUserData] of expectations) {
      const { client, sim: s } = await start({ oneVersion });
      const { template } = await lab(client);
      const vm = await client.templateInstantiate(
        template,
        "a",
        toTemplateXml({
          CONTEXT: {
            NETWORK: "YES",
            START_SCRIPT_BASE64: script,
            USER_DATA: userData,
            USER_DATA_ENCODING: "base64",
          },
        }),
      );
      const runs = s.contextRuns(vm);
      expect(runs.startScript, oneVersion).toBe("#!/bin/sh\necho hi\n");
      expect(runs.userData !== undefined, oneVersion).toBe(readsUserData);
      expect(runs.ignored, oneVersion).toEqual(readsUserData ? [] : ["USER_DATA"]);
      await s.stop();
    }
  });

  it("answers a taken name with INTERNAL (0x2000), which the client reports as ONE_ALLOCATE_FAILED", async () => {
    const { client } = await start();
    await client.templateAllocate(toTemplateXml({ NAME: "t" }));
    const e = (await client
      .templateAllocate(toTemplateXml({ NAME: "t" }))
      .catch((x: unknown) => x)) as OpenNebulaError;
    expect(e.oneErrorCode).toBe(0x2000);
    expect(e.code).toBe("ONE_ALLOCATE_FAILED");
    expect(lcmStateName(71)).toBe("RESTORE");
  });

  it("shows a transient UNKNOWN without failing the wait", async () => {
    const { client } = await start({ unknownBlips: ["a"] });
    const { template } = await lab(client);
    const vm = await client.templateInstantiate(template, "a");
    await waitForVmRunning(client, vm, fast);
    expect((await client.vmInfo(vm)).label).toBe("ACTIVE/UNKNOWN");
    expect((await waitForVmRunning(client, vm, fast)).label).toBe("ACTIVE/RUNNING");
  });

  it("startOneSimulator serves a front-end whose password may contain spaces, advancing on its own clock", async () => {
    const running = await startOneSimulator({
      password: "pass word with spaces",
      transitionMs: 5,
      oneVersion: "6.10.5",
    });
    try {
      const client = new OpenNebulaClient({ endpoint: running.endpoint, session: running.session, env: {} });
      expect(await client.version()).toBe("6.10.5");
      expect(running.session).toBe("oneadmin:pass word with spaces");
      expect((await client.hostPool())[0]).toMatchObject({
        name: "localhost",
        stateName: "MONITORED",
        vmMad: "lxc",
      });
    } finally {
      await running.stop();
    }
  });
});
