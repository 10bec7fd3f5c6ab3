import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode } from "@labgate/core";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SimInstance, startEc2Sim } from "../../../clouds/src/test-support/ec2-sim.js";
import { ec2Spec } from "../../../clouds/src/test-support/ec2-spec.js";
import type { SimReply, SimRequest } from "../../../core/src/adapters/test-support/http-sim.js";
import { ensureBuiltCli } from "../test-support/built-cli.js";
import { deployKillHarness } from "../test-support/deploy-kill-harness.js";
import { runCliInProcess as cli } from "../test-support/in-process-cli.js";

const ACCESS_KEY = "AKIALABGATEKILL00001";
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: ACCESS_KEY,
  AWS_SECRET_ACCESS_KEY: "labgate/kill/test/secret/000000000000000",
  AWS_REGION: "eu-central-1",
  AWS_EC2_METADATA_DISABLED: "true",
};

let bin: string;
beforeAll(() => {
  bin = ensureBuiltCli();
}, 300_000);

/** `deploy apply` on EC2 as a real process, killed while RunInstances is in the simulator (launched, unanswered). */
describe("deploy apply on aws killed with SIGKILL right after RunInstances", () => {
  let dir: string;
  let state: string;
  let specPath: string;
  let sim: Awaited<ReturnType<typeof startEc2Sim>>;
  const kill = deployKillHarness<SimRequest>((req) => req.form.Action === "RunInstances");

  beforeEach(async () => {
    ({ dir, state } = await kill.begin("labgate-deploy-kill-aws-"));
    sim = await startEc2Sim({
      accessKeyId: ACCESS_KEY,
      pendingPolls: 0,
      intercept: (req, reply) => kill.hold.intercept<SimReply>(req, reply),
    });
    specPath = join(dir, "vm.json");
    await writeFile(
      specPath,
      JSON.stringify({
        ...ec2Spec(sim.url, { name: "kill-aws", memory_mib: 2048, instance_type: "t3.small" }),
        platform: "aws",
      }),
    );
    // No profile files from the machine running the tests.
    Object.assign(process.env, AWS_ENV, {
      AWS_CONFIG_FILE: join(dir, "aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "aws-credentials"),
    });
  });

  afterEach(() => kill.end(() => sim.close()));

  const applyAndKill = () => kill.applyAndKill(bin, specPath);
  const live = (name: string) =>
    [...sim.instances.values()]
      .filter((i) => i.tags.Name === name && !["terminated", "shutting-down"].includes(i.state))
      .map((i) => i.id);
  const recordPath = () => join(state, "aws-kill-aws.json");

  it("the intent names the claim; the re-run replaces the instance (no duplicate) and destroy terminates it", async () => {
    await applyAndKill();
    const first = live("kill-aws");
    expect(first).toHaveLength(1);
    const intent = JSON.parse(await readFile(recordPath(), "utf8"));
    expect(intent).toMatchObject({ status: "creating", ref: { platform: "aws", id: "", name: "kill-aws" } });
    expect(Date.parse(intent.ref.location.launchedAt)).toBeGreaterThan(Date.now() - 120_000);
    const claim = intent.ref.location.intent;
    expect(claim).toMatch(/^[0-9a-f-]{36}$/);
    // The claim travelled as the ClientToken and as a tag on the instance.
    const made = sim.instances.get(first[0] as string) as SimInstance;
    expect(made.clientToken).toBe(claim);
    expect(made.tags["labgate:intent"]).toBe(claim);

    const again = await cli(["deploy", "apply", specPath, "--yes", "--json", "--state-dir", state]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`left node ${first[0]} on aws`);
    const now = live("kill-aws");
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(first);
    expect(JSON.parse(await readFile(recordPath(), "utf8")).status).toBeUndefined();

    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(live("kill-aws")).toEqual([]);
  }, 120_000);

  it("destroy alone finds the instance the killed apply launched and terminates it", async () => {
    await applyAndKill();
    const first = live("kill-aws");
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--json", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(JSON.parse(destroyed.stdout).destroyed).toMatchObject({ id: first[0], name: "kill-aws" });
    expect(live("kill-aws")).toEqual([]);
  }, 120_000);

  it("an instance of the same name without this apply's claim is refused, never adopted or terminated", async () => {
    await applyAndKill();
    // Someone else's instance under the name: the interrupted apply's own one lost its claim tag.
    const [id] = live("kill-aws");
    const foreign = sim.instances.get(id as string) as SimInstance;
    delete foreign.tags["labgate:intent"];
    // An intent from long ago: EC2 has long listed all it launched, so the lookup does not wait for it.
    const intent = JSON.parse(await readFile(recordPath(), "utf8"));
    intent.ref.location.launchedAt = new Date(Date.now() - 3_600_000).toISOString();
    await writeFile(recordPath(), JSON.stringify(intent));
    const destroyed = await cli(["deploy", "destroy", specPath, "--yes", "--state-dir", state]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stderr).toContain("nothing of it is on aws");
    expect(["pending", "running"]).toContain(foreign.state);

    const fresh = await cli(["deploy", "apply", specPath, "--yes", "--state-dir", state]);
    expect(fresh.code, fresh.stderr).toBe(ExitCode.PRECONDITION);
    expect(fresh.stderr).toContain("DEPLOY_NAME_TAKEN");
    expect(fresh.stderr).toContain(`already has a node named kill-aws (${id})`);
    expect(live("kill-aws")).toEqual([id]);
    // Nothing was sent, so nothing is recorded.
    await expect(readFile(recordPath(), "utf8")).rejects.toThrow(/ENOENT/);
  }, 120_000);
});
