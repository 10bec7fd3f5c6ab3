import { type DeploySpec, resolveDeployNetwork } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { failure, HTML_LOGIN, NOT_XML } from "../../core/src/adapters/test-support/bad-answers.js";
import type { SimReply, SimRequest } from "../../core/src/adapters/test-support/http-sim.js";
import { AwsAdapter } from "./aws.js";
import { startEc2Sim } from "./test-support/ec2-sim.js";
import { ec2Spec } from "./test-support/ec2-spec.js";

const credentials = {
  accessKeyId: "AKIALABGATESHAPE0001",
  secretAccessKey: "labgate/shape/secret/key/value/00000000",
};

const specFor = (url: string): DeploySpec =>
  ec2Spec(url, { name: "shape-client", memory_mib: 4096, instance_type: "t3.medium" });

/** Requests whose form fields carry a value built from an answer that was never checked. */
function carriedUnchecked(requests: SimRequest[]): string[] {
  return requests
    .filter((r) =>
      Object.values(r.form).some((v) => /undefined|NaN|<|>/.test(v) && !/^[A-Za-z0-9+/=]{40,}$/.test(v)),
    )
    .map((r) => `${r.form.Action}`);
}

describe("EC2 answers the adapter uses (InstanceId, state name, addresses) are checked before use", () => {
  let sim: Awaited<ReturnType<typeof startEc2Sim>> | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  async function adapterWith(replace: (req: SimRequest, reply: SimReply) => SimReply | undefined) {
    await sim?.close();
    sim = await startEc2Sim({
      accessKeyId: credentials.accessKeyId,
      intercept: (req, reply) => replace(req, reply) ?? reply,
    });
    const spec = specFor(sim.url);
    const { spec: resolved } = await resolveDeployNetwork(spec, "aws", undefined);
    const adapter = new AwsAdapter({
      spec,
      clientConfig: { credentials, maxAttempts: 1 },
      pollIntervalMs: 5,
    });
    return { adapter, resolved, sim };
  }

  const action = (req: SimRequest, name: string) => req.form.Action === name;

  it("a proxy's HTML page as the RunInstances answer is named as such; nothing is sent with an id from it", async () => {
    const { adapter, resolved, sim } = await adapterWith((req) =>
      action(req, "RunInstances") ? HTML_LOGIN : undefined,
    );
    const error = await failure(adapter.create(resolved));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain("RunInstances");
    expect(error.hint).toMatch(/HTML page came back/);
    expect(
      sim.requests.some((r) => ["StartInstances", "TerminateInstances"].includes(r.form.Action ?? "")),
    ).toBe(false);
    expect(carriedUnchecked(sim.requests)).toEqual([]);
    const launch = sim.requests.findIndex((r) => r.form.Action === "RunInstances");
    expect(sim.requests.slice(launch + 1).map((r) => r.form.Action)).toEqual([]);
  });

  it("a RunInstances answer without an instanceId, or with one that is not i-..., is refused", async () => {
    for (const rewrite of [
      (text: string) => text.replace(/<instanceId>[^<]*<\/instanceId>/, ""),
      (text: string) =>
        text.replace(/<instanceId>[^<]*<\/instanceId>/, "<instanceId>i-&lt;b&gt;42</instanceId>"),
    ]) {
      const { adapter, resolved, sim } = await adapterWith((req, reply) =>
        action(req, "RunInstances") && reply.text ? { ...reply, text: rewrite(reply.text) } : undefined,
      );
      const error = await failure(adapter.create(resolved));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toMatch(/RunInstances.*InstanceId.*expected an instance id \(i-/);
      // Nothing follows the launch: no call was built from the answer.
      const launch = sim.requests.findIndex((r) => r.form.Action === "RunInstances");
      expect(sim.requests.slice(launch + 1).map((r) => r.form.Action)).toEqual([]);
    }
  });

  it("a lookup by name answering an InstanceId of another shape is refused, never resumed or terminated", async () => {
    let broken = false;
    const { adapter, resolved } = await adapterWith((req, reply) =>
      broken && action(req, "DescribeInstances") && req.form["Filter.1.Name"] && reply.text
        ? {
            ...reply,
            text: reply.text.replace(/<instanceId>[^<]*<\/instanceId>/, "<instanceId>i-../../x</instanceId>"),
          }
        : undefined,
    );
    await adapter.create(resolved);
    broken = true;
    const error = await failure(adapter.findByName("shape-client"));
    expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
    expect(error.message).toMatch(/DescribeInstances tag:Name=shape-client.*InstanceId/);
  });

  it("a DescribeInstances poll answering '<<<not xml', or a state name EC2 does not have, fails clearly", async () => {
    let broken: ((reply: SimReply) => SimReply) | undefined;
    const { adapter, resolved, sim } = await adapterWith((req, reply) =>
      broken && action(req, "DescribeInstances") ? broken(reply) : undefined,
    );
    const ref = await adapter.create(resolved);
    for (const bad of [
      () => NOT_XML,
      (reply: SimReply) => ({
        ...reply,
        text: (reply.text ?? "").replace(/<name>[a-z-]+<\/name>/, "<name>warming</name>"),
      }),
      (reply: SimReply) => ({
        ...reply,
        text: (reply.text ?? "").replace(/<privateIpAddress>[^<]*</, "<privateIpAddress>10.0.1.999<"),
      }),
    ]) {
      broken = bad;
      const error = await failure(adapter.waitUntilRunning(ref, { timeoutMs: 5_000, intervalMs: 5 }));
      expect(error.code).toBe("PLATFORM_RESPONSE_INVALID");
      expect(error.message).toContain("DescribeInstances");
    }
    broken = undefined;
    expect((await adapter.waitUntilRunning(ref, { timeoutMs: 5_000, intervalMs: 5 })).state).toBe("running");
    expect(carriedUnchecked(sim.requests)).toEqual([]);
  });
});
