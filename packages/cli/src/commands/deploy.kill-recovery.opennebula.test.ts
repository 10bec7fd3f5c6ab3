import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode, OpenNebulaClient, toTemplateXml } from "@labgate/core";
import { type RunningOneSimulator, startOneSimulator } from "@labgate/core/simulators";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import { deployKillHarness } from "../test-support/deploy-kill-harness.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";
import { seedOneDeploy } from "../test-support/one-deploy-spec.js";

let bin: string;
beforeAll(() => {
  bin = ensureBuiltCli();
}, 300_000);

/** `deploy apply` on OpenNebula as a real process, killed while one.template.instantiate is in the simulator. */
describe("deploy apply on opennebula killed with SIGKILL right after one.template.instantiate", () => {
  let dir: string;
  let state: string;
  let specPath: string;
  let one: RunningOneSimulator;
  let client: OpenNebulaClient;
  let template: number;
  const kill = deployKillHarness<string>((method) => method === "one.template.instantiate");

  beforeEach(async () => {
    ({ dir, state } = await kill.begin("labgate-deploy-kill-one-"));
    // Not the default password "opennebula": as a secret it would be masked wherever the word appears.
    one = await startOneSimulator({ transitionMs: 5, password: "kill-test-5f1c" });
    one.simulator.holdAnswer = (method) => kill.hold.intercept<undefined>(method, undefined);
    client = new OpenNebulaClient({ endpoint: one.endpoint, session: one.session, env: {} });
    ({ specPath, template } = await seedOneDeploy({ one, client, dir, tag: "kill" }));
  });

  afterEach(() => kill.end(() => one.stop()));

  const applyAndKill = () => kill.applyAndKill(bin, specPath);
  const live = async (name: string) =>
    (await client.vmPool()).filter((vm) => vm.name === name && vm.stateName !== "DONE").map((vm) => vm.id);
  const recordPath = () => join(state, "opennebula-kill-one.json");

  it("the intent names the claim; the re-run replaces the VM (no duplicate) and destroy removes it", async () => {
    await applyAndKill();
    const first = await live("kill-one");
    expect(first).toHaveLength(1);
    const intent = JSON.parse(await readFile(recordPath(), "utf8"));
    expect(intent).toMatchObject({
      status: "creating",
      ref: { platform: "opennebula", id: "", name: "kill-one" },
      ipOwner: "deploy/opennebula/kill-one",
    });
    const claim = intent.ref.location.intent;
    expect(claim).toMatch(/^[0-9a-f-]{36}$/);
    const vm = await client.vmInfo(first[0] as number);
    expect(vm.template.LABGATE_INTENT).toBe(claim);

    const again = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`left node ${first[0]} on opennebula`);
    const now = await live("kill-one");
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(first);
    expect(JSON.parse(again.stdout)).toMatchObject({ state: "running", network: { ip: "192.168.3.30" } });

    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout).released).toEqual(["192.168.3.30"]);
    expect(await live("kill-one")).toEqual([]);
  }, 180_000);

  it("destroy alone finds the VM the killed apply made, removes it and releases the address", async () => {
    await applyAndKill();
    const first = await live("kill-one");
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout)).toMatchObject({
      destroyed: { id: String(first[0]), name: "kill-one" },
      released: ["192.168.3.30"],
    });
    expect(await live("kill-one")).toEqual([]);
  }, 180_000);

  it("a VM of the same name that labgate did not make is refused, never adopted or removed", async () => {
    kill.hold.release();
    const foreign = await client.templateInstantiate(
      template,
      "kill-one",
      toTemplateXml({ NIC: { NETWORK: "lgt-kill-net", IP: "192.168.3.39" } }),
    );
    const fresh = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", state]);
    expect(fresh.code, fresh.stderr).toBe(ExitCode.PRECONDITION);
    expect(fresh.stderr).toContain("DEPLOY_NAME_TAKEN");
    expect(fresh.stderr).toContain(`already has a node named kill-one (${foreign})`);
    expect(await live("kill-one")).toEqual([foreign]);
    await expect(readFile(recordPath(), "utf8")).rejects.toThrow(/ENOENT/);
    // The address it would have used went back to the pool.
    const ledger = JSON.parse(await readFile(join(dir, "ip_pools.state.json"), "utf8"));
    expect(ledger.allocations).toEqual([]);
  }, 180_000);
});
