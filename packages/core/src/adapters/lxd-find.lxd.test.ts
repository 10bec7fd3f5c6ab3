import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDeploySpec } from "../deploy-rules/parse-spec.js";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { LxdClient } from "../platforms/lxd/lxd-client.js";
import { failUnlessUsable, lxdE2eState } from "../platforms/lxd/test-support/lxd-e2e-gate.js";
import { LxdAdapter } from "./lxd.js";
import type { NodeRef, ResolvedSpec } from "./types.js";

// An interrupted `deploy apply` on LXD finds its instance by name and labgate's marker, never an instance
// someone else made under that name. Real LXD, empty instances (no image, never started: no packet sent).
// Gated like the other LXD suites: LABGATE_LXD_E2E=0 leaves it out, LABGATE_REQUIRE_LXD=1 requires it.
const lxd = await lxdE2eState([]);

const tag = randomBytes(3).toString("hex");
const ours = `lgt-deploy-${tag}-ours`;
const foreign = `lgt-deploy-${tag}-foreign`;
const renamed = `lgt-deploy-${tag}-other`;

function lxc(...args: string[]): string {
  return execFileSync("lxc", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

failUnlessUsable("LXD findByName", lxd);

describe("LxdAdapter intent", () => {
  it("marks the instance it creates and announces the create before sending it", async () => {
    const parsed = parseDeploySpec(
      JSON.stringify({
        name: "web1",
        platform: "lxd",
        os: { family: "linux" },
        cores: 1,
        memory_mib: 256,
        image: { ref: "labgate/none", format: "lxd" },
        network: { attach: "lgtbr0", ip: "10.9.9.10", prefix: 24, gateway: "10.9.9.1", dns: [] },
      }),
    );
    const spec: ResolvedSpec = {
      ...(parsed.spec as DeploySpec),
      platform: "lxd",
      resolvedNetwork: { mode: "dhcp", attach: "lgtbr0" },
    };
    expect(new LxdAdapter().body(spec).config?.["user.labgate.deploy"]).toBe("web1");
    // A client that refuses everything: the intent must already be announced when the create fails.
    const refusing = new LxdClient({ socketPath: "/nonexistent/labgate-test.socket" });
    const announced: NodeRef[] = [];
    await expect(
      new LxdAdapter({ client: refusing }).create(spec, {
        beforeMutation: async (ref) => void announced.push(ref),
      }),
    ).rejects.toThrow();
    expect(announced).toEqual([{ platform: "lxd", id: "web1", name: "web1" }]);
  });
});

describe.skipIf(!lxd.ok)("LxdAdapter.findByName (real LXD, empty instances)", () => {
  beforeAll(() => {
    lxc("init", "--empty", ours, "-c", `user.labgate.deploy=${ours}`);
    lxc("init", "--empty", foreign);
    lxc("init", "--empty", renamed, "-c", `user.labgate.deploy=${ours}`);
  }, 120_000);
  afterAll(() => {
    for (const name of [ours, foreign, renamed]) {
      try {
        lxc("delete", "--force", name);
      } catch {
        // not created
      }
    }
  }, 120_000);

  it("finds labgate's instance of that name, and neither a foreign one nor a marker under another name", async () => {
    const adapter = new LxdAdapter({ client: new LxdClient({ socketPath: lxd.socket as string }) });
    expect(await adapter.findByName(ours)).toEqual([{ platform: "lxd", id: ours, name: ours }]);
    expect(await adapter.findByName(foreign)).toEqual([]);
    expect(await adapter.findByName(renamed)).toEqual([]);
    expect(await adapter.findByName(`lgt-deploy-${tag}-missing`)).toEqual([]);
  });
});
