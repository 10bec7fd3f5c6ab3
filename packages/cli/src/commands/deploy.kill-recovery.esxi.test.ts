import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SimReply, SimRequest } from "../../../core/src/adapters/test-support/http-sim.js";
import { startVsphereSim } from "../../../core/src/adapters/test-support/vsphere-sim.js";
import { addUbuntuTemplate } from "../../../core/src/adapters/test-support/vsphere-template.js";
import { seedNetwork } from "../../../core/src/ip-pool/test-support/seed-network.js";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import { deployKillHarness } from "../test-support/deploy-kill-harness.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";

const USER = "administrator@vsphere.local";
const PASSWORD = "Kill-Passw0rd!";

let bin: string;
beforeAll(() => {
  bin = ensureBuiltCli();
}, 300_000);

/** `deploy apply` on vSphere as a real process, killed while its clone is in the simulator (made, unanswered). */
describe("deploy apply on esxi killed with SIGKILL right after the clone call", () => {
  let dir: string;
  let state: string;
  let specPath: string;
  let sim: Awaited<ReturnType<typeof startVsphereSim>>;
  const kill = deployKillHarness<SimRequest>(
    (req) => req.method === "POST" && req.query.get("action") === "clone",
  );

  beforeEach(async () => {
    ({ dir, state } = await kill.begin("labgate-deploy-kill-esxi-"));
    sim = await startVsphereSim({
      user: USER,
      password: PASSWORD,
      taskPolls: 0,
      intercept: (req, reply) => kill.hold.intercept<SimReply>(req, reply),
    });
    addUbuntuTemplate(sim.vms);
    specPath = join(dir, "vm.json");
    await writeFile(
      specPath,
      JSON.stringify({
        name: "kill-esxi",
        platform: "esxi",
        os: { family: "linux", distro: "ubuntu" },
        cores: 2,
        memory_mib: 2048,
        template_id: "vm-42",
        network: { cidr: "192.168.3.0/24" },
        platform_options: {
          esxi: {
            url: sim.url,
            resource_pool: "resgroup-9",
            folder: "group-v4",
            datastore_id: "datastore-11",
          },
        },
      }),
    );
    await writeFile(join(dir, "ip_pools.json"), JSON.stringify({ networks: [seedNetwork()] }));
    process.env.LABGATE_IP_POOLS = join(dir, "ip_pools.json");
    process.env.VSPHERE_USER = USER;
    process.env.VSPHERE_PASSWORD = PASSWORD;
  });

  afterEach(() => kill.end(() => sim.close()));

  const applyAndKill = () => kill.applyAndKill(bin, specPath);
  const named = (name: string) =>
    [...sim.vms.entries()].filter(([, vm]) => vm.name === name).map(([id]) => id);
  const recordPath = () => join(state, "esxi-kill-esxi.json");

  it("the intent names the claim; the re-run replaces the clone (no duplicate) and destroy removes it", async () => {
    await applyAndKill();
    const first = named("kill-esxi");
    expect(first).toHaveLength(1);
    const intent = JSON.parse(await readFile(recordPath(), "utf8"));
    expect(intent).toMatchObject({
      status: "creating",
      ref: { platform: "esxi", id: "", name: "kill-esxi" },
      ipOwner: "deploy/esxi/kill-esxi",
    });
    expect(intent.ref.location.intent).toMatch(/^[0-9a-f-]{36}$/);

    const again = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`left node ${first[0]} on esxi`);
    const now = named("kill-esxi");
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(first);
    // The finished clone carries the claim its record names.
    const record = JSON.parse(await readFile(recordPath(), "utf8"));
    expect(sim.vms.get(now[0] as string)?.extraConfig?.["labgate.intent"]).toBe(record.ref.location.intent);
    expect(JSON.parse(again.stdout)).toMatchObject({ state: "running", network: { ip: "192.168.3.30" } });

    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout).released).toEqual(["192.168.3.30"]);
    expect(named("kill-esxi")).toEqual([]);
  }, 180_000);

  it("destroy alone finds the clone the killed apply made, removes it and releases the address", async () => {
    await applyAndKill();
    const first = named("kill-esxi");
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout)).toMatchObject({
      destroyed: { id: first[0], name: "kill-esxi" },
      released: ["192.168.3.30"],
    });
    expect(named("kill-esxi")).toEqual([]);
  }, 180_000);

  it("a VM of the same name that another apply claimed, or that exists before apply, is never adopted or removed", async () => {
    await applyAndKill();
    const [id] = named("kill-esxi");
    const vm = sim.vms.get(id as string);
    if (vm) vm.extraConfig = { ...vm.extraConfig, "labgate.intent": "another-apply" };
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stderr).toContain("nothing of it is on esxi");
    expect(named("kill-esxi")).toEqual([id]);

    const fresh = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", state]);
    expect(fresh.code, fresh.stderr).toBe(ExitCode.PRECONDITION);
    expect(fresh.stderr).toContain("DEPLOY_NAME_TAKEN");
    expect(fresh.stderr).toContain(`already has a node named kill-esxi (${id})`);
    expect(named("kill-esxi")).toEqual([id]);
    await expect(readFile(recordPath(), "utf8")).rejects.toThrow(/ENOENT/);
  }, 180_000);
});
