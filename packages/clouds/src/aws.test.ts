import { checkDeployment, type DeploySpec, resolveDeployNetwork } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { AwsAdapter, type AwsAdapterOptions } from "./aws.js";
import { startEc2Sim } from "./test-support/ec2-sim.js";

const credentials = {
  accessKeyId: "AKIALABGATETEST00001",
  secretAccessKey: "labgate/test/secret/key/value/000000000",
};

/** The adapter under test: the SDK on the simulator, one attempt per call so a failure shows at once. */
const adapterFor = (spec: DeploySpec, more: Omit<AwsAdapterOptions, "spec" | "clientConfig"> = {}) =>
  new AwsAdapter({ spec, clientConfig: { credentials, maxAttempts: 1 }, ...more });

const specFor = (url: string, network: DeploySpec["network"]): DeploySpec => ({
  name: "bench-client",
  os: { family: "linux", distro: "ubuntu" },
  cores: 2,
  memory_mib: 4096,
  disk_gb: 30,
  image: { ref: "ami-0abcdef1234567890", format: "ami" },
  network,
  platform_options: {
    aws: {
      region: "eu-central-1",
      subnet_id: "subnet-0123456789abcdef0",
      instance_type: "t3.medium",
      security_group_ids: ["sg-0aa"],
      endpoint: url,
    },
  },
});

describe("AwsAdapter with the EC2 SDK pointed at a loopback EC2 Query simulator", () => {
  it("launches with DHCP (no PrivateIpAddress), waits for running, stops and terminates", async () => {
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId, pendingPolls: 1 });
    try {
      const spec = specFor(sim.url, {});
      const adapter = adapterFor(spec, { pollIntervalMs: 5 });
      expect(checkDeployment(spec, adapter).filter((f) => f.severity === "error")).toEqual([]);
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      expect(resolved.resolvedNetwork).toEqual({ mode: "dhcp" });
      const ref = await adapter.create(resolved);
      const run = sim.requests.find((r) => r.form.Action === "RunInstances");
      expect(run?.form).toMatchObject({
        ImageId: "ami-0abcdef1234567890",
        InstanceType: "t3.medium",
        SubnetId: "subnet-0123456789abcdef0",
        "SecurityGroupId.1": "sg-0aa",
        "TagSpecification.1.Tag.1.Value": "bench-client",
        "BlockDeviceMapping.1.Ebs.VolumeSize": "30",
      });
      expect(run?.form.PrivateIpAddress).toBeUndefined();
      expect(Buffer.from(run?.form.UserData ?? "", "base64").toString()).toContain("#cloud-config");
      const info = await adapter.waitUntilRunning(ref, { timeoutMs: 5000, intervalMs: 5 });
      expect(info).toMatchObject({ state: "running", rawState: "running", addresses: ["10.0.1.10"] });
      await adapter.stop(ref);
      expect((await adapter.get(ref))?.state).toBe("stopped");
      await adapter.destroy(ref);
      expect(sim.instances.get(ref.id)?.state).toBe("shutting-down");
      expect((await adapter.get(ref))?.state).toBe("terminated");
      await adapter.destroy(ref); // terminated: nothing to do
      // A record without a launch time (or an old one): NotFound means gone.
      expect(
        await adapter.get({ platform: "aws", id: "i-00000000000000000", name: "bench-client" }),
      ).toBeUndefined();
    } finally {
      await sim.close();
    }
  });

  it("sends PrivateIpAddress only when static is asked", async () => {
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId });
    try {
      const spec = specFor(sim.url, { ip: "10.0.1.50", static: true });
      const adapter = adapterFor(spec);
      // The cloud knows the subnet's gateway and DNS: the address alone is enough, and the guest stays on DHCP.
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      expect(resolved.resolvedNetwork).toEqual({ mode: "fixed", ip: "10.0.1.50" });
      expect(Buffer.from(adapter.runInput(resolved).UserData ?? "", "base64").toString()).not.toContain(
        "addresses",
      );
      await adapter.create(resolved);
      expect(sim.requests.find((r) => r.form.Action === "RunInstances")?.form.PrivateIpAddress).toBe(
        "10.0.1.50",
      );
      expect(checkDeployment(specFor(sim.url, { ip: "10.0.1.50" }), adapter).map((f) => f.code)).toContain(
        "CLOUD_IP_WITHOUT_STATIC",
      );
    } finally {
      await sim.close();
    }
  });

  it("maps EC2 errors: bad credentials → PLATFORM_AUTH_FAILED, malformed AMI → PLATFORM_API_ERROR", async () => {
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId });
    try {
      const spec = specFor(sim.url, {});
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      const wrong = new AwsAdapter({
        spec,
        clientConfig: {
          credentials: { ...credentials, accessKeyId: "AKIAWRONG00000000000" },
          maxAttempts: 1,
        },
      });
      await expect(wrong.create(resolved)).rejects.toMatchObject({ code: "PLATFORM_AUTH_FAILED" });
      const adapter = adapterFor(spec);
      await expect(adapter.create({ ...resolved, image: { ref: "bogus" } })).rejects.toMatchObject({
        code: "PLATFORM_API_ERROR",
        message: expect.stringContaining("InvalidAMIID.Malformed"),
      });
      expect(adapter.validate({ ...spec, image: { ref: "bogus" } }).map((f) => f.code)).toContain(
        "AWS_AMI_INVALID",
      );
    } finally {
      await sim.close();
    }
  });
  it("takes InvalidInstanceID.NotFound right after RunInstances as not propagated yet: waits, and destroy still terminates", async () => {
    // eventual-consistency.html: the id of a new instance may be unknown to the next calls for a while.
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId, invisibleCalls: 3 });
    try {
      const spec = specFor(sim.url, {});
      const adapter = adapterFor(spec, { pollIntervalMs: 5, consistencyGraceMs: 60_000 });
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      const ref = await adapter.create(resolved);
      expect(await adapter.get(ref)).toMatchObject({
        state: "pending",
        rawState: expect.stringContaining("eventual consistency"),
      });
      const info = await adapter.waitUntilRunning(ref, { timeoutMs: 5000, intervalMs: 5 });
      expect(info.state).toBe("running");

      // One name, one instance: each further launch gets its own name.
      const young = await adapter.create({ ...resolved, name: "bench-young" });
      await adapter.destroy(young); // the first calls still answer NotFound: it must not be taken as gone
      expect(sim.instances.get(young.id)?.state).toBe("shutting-down");
      expect(sim.instances.get(young.id)?.invisible).toBeLessThanOrEqual(0);

      // Stop (and start) right after the launch are the same: retried until the id has propagated.
      const fresh = await adapter.create({ ...resolved, name: "bench-fresh" });
      await adapter.stop(fresh);
      expect(sim.instances.get(fresh.id)?.state).toBe("stopping");

      // Past the grace period (or a record without a launch time), NotFound means gone.
      const stale = await adapter.create({ ...resolved, name: "bench-stale" });
      const strict = adapterFor(spec, { pollIntervalMs: 5, consistencyGraceMs: 0 });
      expect(await strict.get(stale)).toBeUndefined();
      const { launchedAt: _, ...withoutLaunch } = stale.location ?? {};
      expect(await adapter.get({ ...stale, location: withoutLaunch })).toBeUndefined();
    } finally {
      await sim.close();
    }
  });

  it("resizes the root volume under the AMI's RootDeviceName from DescribeImages, not /dev/sda1", async () => {
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId });
    try {
      // An Amazon Linux AMI: its root device is /dev/xvda; a /dev/sda1 mapping would add a second volume.
      const spec = {
        ...specFor(sim.url, {}),
        image: { ref: "ami-0a1b2c3d4e5f60718", format: "ami" as const },
      };
      const adapter = adapterFor(spec, { pollIntervalMs: 5 });
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      expect(adapter.plan(resolved).calls.map((c) => c.action)).toEqual([
        "DescribeImages",
        "DescribeInstances",
        "RunInstances",
        "DescribeInstances",
      ]);
      const ref = await adapter.create(resolved);
      expect(sim.requests.map((r) => r.form.Action)).toEqual([
        "DescribeImages",
        "DescribeInstances",
        "RunInstances",
      ]);
      expect(sim.requests[2]?.form["BlockDeviceMapping.1.DeviceName"]).toBe("/dev/xvda");
      expect(sim.instances.get(ref.id)?.volumes).toEqual({ "/dev/xvda": { sizeGb: 30, root: true } });

      // An explicit root_device is the user's word and skips the lookup.
      const pinned = adapterFor(spec, { overrides: { root_device: "/dev/xvda" } });
      expect(pinned.plan(resolved).calls.map((c) => c.action)).toEqual([
        "DescribeInstances",
        "RunInstances",
        "DescribeInstances",
      ]);

      // An AMI EC2 does not know fails at DescribeImages, before anything is launched.
      const missing = { ...resolved, image: { ref: "ami-0000000000000dead", format: "ami" as const } };
      await expect(adapter.create(missing)).rejects.toMatchObject({
        code: "PLATFORM_NOT_FOUND",
        message: expect.stringContaining("InvalidAMIID.NotFound"),
      });
      expect(sim.instances.size).toBe(1);
    } finally {
      await sim.close();
    }
  });

  it("names ec2:CreateTags in the hint when the policy cannot tag at launch", async () => {
    const sim = await startEc2Sim({ accessKeyId: credentials.accessKeyId, denied: ["ec2:CreateTags"] });
    try {
      const spec = specFor(sim.url, {});
      const adapter = adapterFor(spec);
      const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
      const error = await adapter.create(resolved).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: "PLATFORM_AUTH_FAILED",
        message: expect.stringContaining("UnauthorizedOperation"),
      });
      expect((error as { hint: string }).hint).toContain("ec2:CreateTags");
      expect(sim.instances.size).toBe(0);
    } finally {
      await sim.close();
    }
  });
});
