import { describe, expect, it } from "vitest";
import { OpenNebulaClient } from "../platforms/opennebula/client.js";
import { OneSimulator } from "../platforms/opennebula/sim/one-simulator.js";
import { toTemplateXml } from "../platforms/opennebula/template-xml.js";
import { OpenNebulaAdapter } from "./opennebula.js";
import { oneLabVmSpec, seedOneLab } from "./test-support/one-lab-seed.js";
import { poolStaticNetwork } from "./test-support/static-network.js";
import type { NodeRef } from "./types.js";

describe("OpenNebulaAdapter finds what an interrupted apply made by its claim (OpenNebula simulator)", () => {
  it("the claimed VM only, also while it is dying (destroy waits for DONE); DONE VMs and foreign ones never", async () => {
    const sim = new OneSimulator({ hosts: [{ name: "lxd1", vmMad: "lxd", state: "MONITORED" }] });
    const endpoint = await sim.start();
    try {
      const client = new OpenNebulaClient({ endpoint, session: "oneadmin:opennebula" });
      const tpl = await seedOneLab(client);
      const spec = oneLabVmSpec("find-vm", tpl, poolStaticNetwork("192.168.3.34", ["8.8.8.8"]));
      const adapter = new OpenNebulaAdapter({ spec, client, pollIntervalMs: 5 });
      const intents: NodeRef[] = [];
      const ref = await adapter.create(spec, { beforeMutation: async (r) => void intents.push(r) });
      // The claim was announced before the call, without the id oned had not chosen yet.
      expect(intents).toEqual([
        { platform: "opennebula", id: "", name: "find-vm", location: { intent: expect.any(String) } },
      ]);
      const intent = intents[0] as NodeRef;
      expect(await adapter.findLeftovers(intent)).toEqual([{ ...intent, id: ref.id }]);

      // Someone else's VM of that name: listed by name, never taken for the apply's, and blocks a new create.
      const foreign = await client.templateInstantiate(tpl, "find-vm", toTemplateXml({ MEMORY: 64 }));
      expect((await adapter.findByName("find-vm")).map((r) => r.id).sort()).toEqual(
        [ref.id, String(foreign)].sort(),
      );
      expect(await adapter.findLeftovers(intent)).toEqual([{ ...intent, id: ref.id }]);
      await expect(adapter.create(spec)).rejects.toMatchObject({ code: "DEPLOY_NAME_TAKEN" });

      // Dying (terminate sent, not DONE yet): still the apply's, and destroy waits until it is DONE.
      await adapter.waitUntilRunning(ref, { timeoutMs: 5000, intervalMs: 5 });
      await client.vmAction("terminate", Number(ref.id));
      expect((await adapter.get(ref))?.state).toBe("stopping");
      const [dying] = await adapter.findLeftovers(intent);
      expect(dying?.id).toBe(ref.id);
      await adapter.destroy(dying as NodeRef);
      expect((await adapter.get(ref))?.state).toBe("terminated");
      // DONE is gone for good: nothing is left to find.
      expect(await adapter.findLeftovers(intent)).toEqual([]);
      expect((await adapter.findByName("find-vm")).map((r) => r.id)).toEqual([String(foreign)]);
    } finally {
      await sim.stop();
    }
  });
});
