import { type DeploySpec, type NodeRef, resolveDeployNetwork } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { AwsAdapter } from "./aws.js";
import { startEc2Sim } from "./test-support/ec2-sim.js";
import { ec2Spec } from "./test-support/ec2-spec.js";

const credentials = {
  accessKeyId: "AKIALABGATEFIND00001",
  secretAccessKey: "labgate/find/secret/key/value/0000000000",
};

const specFor = (url: string): DeploySpec =>
  ec2Spec(url, { name: "find-aws", memory_mib: 2048, instance_type: "t3.small" });

describe("AwsAdapter finds what an interrupted apply launched (EC2 simulator)", () => {
  it("waits out eventual consistency for a young launch, and ends at once for an old intent with nothing", async () => {
    // ec2/latest/devguide/eventual-consistency.html: a new instance may be missing from listings for a while.
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId, invisibleCalls: 2 });
    try {
      const spec = specFor(sim.url);
      const options = { spec, clientConfig: { credentials, maxAttempts: 1 }, pollIntervalMs: 5 };
      const adapter = new AwsAdapter({ ...options, consistencyGraceMs: 60_000 });
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      const intents: NodeRef[] = [];
      const ref = await adapter.create(resolved, { beforeMutation: async (r) => void intents.push(r) });
      const intent = intents[0] as NodeRef;
      expect(intent).toMatchObject({ id: "", name: "find-aws", location: { region: "eu-central-1" } });
      const claim = intent.location?.intent;
      // The claim is the launch's ClientToken and its tag.
      expect(sim.instances.get(ref.id)).toMatchObject({
        clientToken: claim,
        tags: { "labgate:intent": claim },
      });

      // Another process resumes right away: the first listings do not show the instance yet.
      const listings = () =>
        sim.requests.filter((r) => r.form.Action === "DescribeInstances" && !r.form["InstanceId.1"]).length;
      const before = listings();
      const later = new AwsAdapter({ ...options, consistencyGraceMs: 60_000 });
      expect(await later.findLeftovers(intent)).toEqual([
        {
          platform: "aws",
          id: ref.id,
          name: "find-aws",
          location: { region: "eu-central-1", intent: claim },
        },
      ]);
      expect(listings() - before).toBe(3);

      // An intent past the grace whose launch never happened: one listing, nothing found, no wait.
      const old: NodeRef = {
        ...intent,
        location: {
          ...intent.location,
          intent: "never-sent",
          launchedAt: new Date(Date.now() - 3_600_000).toISOString(),
        },
      };
      const start = listings();
      expect(await later.findLeftovers(old)).toEqual([]);
      expect(listings() - start).toBe(1);
    } finally {
      await sim.close();
    }
  });

  it("a launch EC2 refuses withdraws the claim, so the failed apply ends at once instead of waiting for it", async () => {
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId });
    try {
      const spec = { ...specFor(sim.url), image: { ref: "ami-0000000000000dead", format: "ami" as const } };
      const adapter = new AwsAdapter({
        spec,
        clientConfig: { credentials, maxAttempts: 1 },
        consistencyGraceMs: 60_000,
      });
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      const intents: NodeRef[] = [];
      await expect(
        adapter.create(resolved, { beforeMutation: async (r) => void intents.push(r) }),
      ).rejects.toMatchObject({ message: expect.stringContaining("InvalidAMIID.NotFound") });
      expect(intents.map((r) => r.location?.intent !== undefined)).toEqual([true, false]);
      expect(sim.instances.size).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it("RunInstances with a ClientToken seen before returns that instance; other parameters are refused", async () => {
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId });
    try {
      const spec = specFor(sim.url);
      const { EC2Client, RunInstancesCommand } = await import("@aws-sdk/client-ec2");
      const client = new EC2Client({
        region: "eu-central-1",
        endpoint: sim.url,
        credentials,
        maxAttempts: 1,
      });
      const adapter = new AwsAdapter({ spec, clientConfig: { credentials, maxAttempts: 1 } });
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      const input = adapter.runInput(resolved, undefined, "token-1");
      const first = await client.send(new RunInstancesCommand(input));
      const again = await client.send(new RunInstancesCommand(input));
      expect(again.Instances?.[0]?.InstanceId).toBe(first.Instances?.[0]?.InstanceId);
      expect(sim.instances.size).toBe(1);
      await expect(
        client.send(new RunInstancesCommand({ ...input, InstanceType: "t3.large" })),
      ).rejects.toMatchObject({
        name: "IdempotentParameterMismatch",
      });
    } finally {
      await sim.close();
    }
  });
});
