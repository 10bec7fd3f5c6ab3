import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LxdClient } from "../platforms/lxd/lxd-client.js";
import { failUnlessUsable, lxdE2eState } from "../platforms/lxd/test-support/lxd-e2e-gate.js";
import { destroyLxdNode, getLxdNode, lxdNodeBody } from "./lxd-node.js";

// Core's LXD node operations on the real daemon, with empty instances (no image, never started: no packet
// sent). Gated like the other LXD suites: LABGATE_LXD_E2E=0 leaves it out, LABGATE_REQUIRE_LXD=1 requires it.
const lxd = await lxdE2eState([]);
failUnlessUsable("LXD node operations", lxd);

const tag = randomBytes(3).toString("hex");
const mine = `lgt-h51-${tag}-mine`;
const foreign = `lgt-h51-${tag}-foreign`;

function lxc(...args: string[]): string {
  return execFileSync("lxc", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describe("lxdNodeBody", () => {
  it("keeps the caller's config and devices and adds cloud-init's documents under the keys asked for", () => {
    const body = lxdNodeBody({
      name: "n1",
      source: { type: "image", alias: "x" },
      config: { "user.owner": "me" },
      devices: { root: { type: "disk", path: "/", pool: "default" } },
      cloudInit: {
        userData: "#cloud-config\n",
        network: { version: 2 },
        keys: { userData: "user.user-data", networkConfig: "user.network-config" },
      },
    });
    expect(body).toEqual({
      name: "n1",
      type: "container",
      source: { type: "image", alias: "x" },
      config: {
        "user.owner": "me",
        "user.user-data": "#cloud-config\n",
        "user.network-config": "version: 2\n",
      },
      devices: { root: { type: "disk", path: "/", pool: "default" } },
    });
    // Without cloud-init (an image that gets its address otherwise) no cloud-init key is set.
    expect(lxdNodeBody({ name: "n2", source: { type: "image", alias: "x" }, devices: {} }).config).toEqual(
      {},
    );
  });
});

describe.skipIf(!lxd.ok)("LXD node operations (real LXD, empty instances)", () => {
  const client = new LxdClient({ socketPath: lxd.socket as string });
  beforeAll(() => {
    lxc("init", "--empty", mine, "-c", "user.labgate.test=h51");
    lxc("init", "--empty", foreign);
  }, 120_000);
  afterAll(() => {
    for (const name of [mine, foreign]) {
      try {
        lxc("delete", "--force", name);
      } catch {
        // already gone
      }
    }
  }, 120_000);

  it("get reads record and state; destroy leaves what `owned` refuses, removes the rest, and a gone node is ok", async () => {
    const node = await getLxdNode(client, mine);
    expect(node).toMatchObject({ name: mine, status: "Stopped", state: "stopped", addresses: [] });
    expect(node?.config["user.labgate.test"]).toBe("h51");
    expect(await getLxdNode(client, `lgt-h51-${tag}-missing`)).toBeUndefined();

    const owned = (config: Record<string, string>) => config["user.labgate.test"] === "h51";
    expect(await destroyLxdNode(client, foreign, { owned })).toBe("not-owned");
    expect(await client.getInstance(foreign)).toBeDefined();

    const calls: string[] = [];
    expect(await destroyLxdNode(client, mine, { owned, onCall: (c) => calls.push(c) })).toBe("destroyed");
    // Stopped already: no stop is sent, only the delete.
    expect(calls).toEqual([`DELETE /1.0/instances/${mine}`]);
    expect(await client.getInstance(mine)).toBeUndefined();
    expect(await destroyLxdNode(client, mine, { owned })).toBe("absent");
  }, 120_000);
});
