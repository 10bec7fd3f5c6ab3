import { OpenNebulaClient, OpenNebulaError } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  OneSimulator,
  type OneSimulatorOptions,
} from "../../../../core/src/platforms/opennebula/sim/one-simulator.js";
import type { StepContext } from "../../engine/step.js";
import { hostStep } from "./host-step.js";
import type { OneLabRuntime } from "./one-lab-runtime.js";

let sim: OneSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** The host step's verify against a simulated oned; it only needs the runtime's client. */
async function verifyHost(hostName: string, hosts: OneSimulatorOptions["hosts"]) {
  sim = new OneSimulator({ hosts });
  const endpoint = await sim.start();
  const client = new OpenNebulaClient({ endpoint, session: "oneadmin:opennebula", env: {} });
  const rt = { client: () => client } as unknown as OneLabRuntime;
  return hostStep(rt, hostName).actions.verify({} as StepContext);
}

describe("host step verify", () => {
  it("passes on a MONITORED host", async () => {
    await expect(verifyHost("lxd-host", [{ name: "lxd-host" }])).resolves.toBeUndefined();
  });

  it("a host in ERROR is ONE_HOST_ERROR with the host's own error", async () => {
    await expect(verifyHost("lxd-host", [{ name: "lxd-host", fails: true }])).rejects.toMatchObject({
      code: "ONE_HOST_ERROR",
      message: expect.stringMatching(/Host lxd-host \(ID \d+\) is in ERROR/),
    });
  });

  it("a host that is gone from OpenNebula is ONE_NOT_FOUND (exit 5) naming it, with what to do", async () => {
    const verify = verifyHost("lxd-host", [{ name: "other-host" }]);
    await expect(verify).rejects.toBeInstanceOf(OpenNebulaError);
    await expect(verify).rejects.toMatchObject({
      code: "ONE_NOT_FOUND",
      exitCode: 5,
      message: expect.stringContaining("Host lxd-host is no longer in OpenNebula"),
      hint: expect.stringContaining("labgate lab up"),
      details: { host: "lxd-host" },
    });
  });
});
