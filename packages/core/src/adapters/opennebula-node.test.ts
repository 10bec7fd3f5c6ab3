import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OpenNebulaClient } from "../platforms/opennebula/client.js";
import { OneSimulator } from "../platforms/opennebula/sim/one-simulator.js";
import {
  instantiateOneVm,
  type OneVmNode,
  oneNodeState,
  oneVmInstantiation,
  terminateOneVm,
  waitOneVmRunning,
} from "./opennebula-node.js";
import { seedOneLab } from "./test-support/one-lab-seed.js";
import { pollUntil } from "./wait.js";

let sim: OneSimulator;
let client: OpenNebulaClient;
const fast = { intervalMs: 5, timeoutMs: 5_000 };

beforeEach(async () => {
  sim = new OneSimulator({ hosts: [{ name: "lxd1", vmMad: "lxd", state: "MONITORED" }] });
  client = new OpenNebulaClient({ endpoint: await sim.start(), session: "oneadmin:opennebula", env: {} });
});
afterEach(async () => {
  await sim.stop();
});

async function node(name: string): Promise<OneVmNode> {
  return {
    templateId: await seedOneLab(client),
    name,
    nic: { NETWORK: "lab", IP: "192.168.3.31" },
    context: { NETWORK: "YES", SET_HOSTNAME: name },
    sizes: { MEMORY: 256 },
    attributes: { LABGATE_INTENT: "claim-1" },
  };
}

describe("an OpenNebula VM as a node (simulated oned)", () => {
  it("instantiates with exactly the planned call, runs, and terminates; a VM already gone is 'gone'", async () => {
    const n = await node("node-1");
    const id = await instantiateOneVm(client, n);
    const sent = sim.calls.filter((c) => c.ok && c.method === "one.template.instantiate");
    expect(sent.map((c) => c.params)).toEqual([oneVmInstantiation(n).params]);
    // The extra template: sizes first, NIC with the fixed address, CONTEXT, then the caller's attributes.
    expect(oneVmInstantiation(n).params[3]).toBe(
      "<TEMPLATE><MEMORY>256</MEMORY><NIC><NETWORK>lab</NETWORK><IP>192.168.3.31</IP></NIC>" +
        "<CONTEXT><NETWORK>YES</NETWORK><SET_HOSTNAME>node-1</SET_HOSTNAME></CONTEXT>" +
        "<LABGATE_INTENT>claim-1</LABGATE_INTENT></TEMPLATE>",
    );

    const running = await waitOneVmRunning(client, id, fast);
    expect(oneNodeState(running)).toBe("running");
    expect(running.nics.map((x) => x.ip)).toEqual(["192.168.3.31"]);

    expect(await terminateOneVm(client, id, fast)).toBe("terminated");
    expect(oneNodeState(await client.vmInfo(id))).toBe("terminated");
    expect(await terminateOneVm(client, id, fast)).toBe("gone");
    expect(await terminateOneVm(client, 4242, fast)).toBe("gone");
  });

  it("maps STATE/LCM_STATE as oned reports them: powered off is stopped, shutting down is stopping", async () => {
    const id = await instantiateOneVm(client, await node("node-2"));
    await waitOneVmRunning(client, id, fast);
    await client.vmAction("poweroff-hard", id);
    const off = await pollUntil(
      "poweroff",
      () => client.vmInfo(id),
      (vm) => vm.stateName === "POWEROFF",
      fast,
    );
    expect(oneNodeState(off)).toBe("stopped");
    await client.vmAction("resume", id);
    await waitOneVmRunning(client, id, fast);
    await client.vmAction("terminate", id);
    const dying = await client.vmInfo(id);
    expect(dying.label).toMatch(/^ACTIVE\/(SHUTDOWN|EPILOG|CLEANUP)|^DONE$/);
    expect(["stopping", "terminated"]).toContain(oneNodeState(dying));
    // States the simulator never shows for long, straight from include/VirtualMachine.h's names.
    expect(oneNodeState({ stateName: "ACTIVE", lcmStateName: "BOOT_FAILURE" })).toBe("error");
    expect(oneNodeState({ stateName: "ACTIVE", lcmStateName: "UNKNOWN" })).toBe("unknown");
    expect(oneNodeState({ stateName: "ACTIVE", lcmStateName: "PROLOG" })).toBe("pending");
    expect(oneNodeState({ stateName: "PENDING", lcmStateName: "LCM_INIT" })).toBe("pending");
    expect(oneNodeState({ stateName: "FAILED", lcmStateName: "LCM_INIT" })).toBe("error");
  });
});
