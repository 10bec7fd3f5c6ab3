import type { LxdClient } from "@labgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { parseLabSpec } from "../../spec/parse-lab-spec.js";
import { lxdLabOptions } from "./lxd-lab-options.js";
import { cloudInitKeys, resolvePayloadMode } from "./payload-mode.js";
import { fakeLxdDaemon } from "./test-support/fake-lxd-daemon.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

/** An LXD of another version (one without the cloud_init extension cannot run here). */
async function lxdLike(extensions: string[], imageProperties: Record<string, string>): Promise<LxdClient> {
  const fake = await fakeLxdDaemon({
    "/1.0": { api_extensions: extensions, api_version: "1.0", auth: "trusted" },
    "/1.0/images/aliases/test%2Fimage": { name: "test/image", target: "abc123" },
    "/1.0/images/abc123": { fingerprint: "abc123", properties: imageProperties, aliases: [] },
  });
  closers.push(fake.close);
  return fake.client;
}

const options = (payload?: string) =>
  lxdLabOptions(
    parseLabSpec(
      {
        name: "pm",
        provider: "lxd",
        network: { cidr: "10.20.0.0/24" },
        image: "test/image",
        ...(payload ? { providerOptions: { payload } } : {}),
      },
      "test",
    ),
  );

describe("cloud-init config keys", () => {
  it("cloud-init.* with LXD's cloud_init extension, user.* (older LXD) without it", async () => {
    expect(await cloudInitKeys(await lxdLike(["cloud_init"], {}))).toEqual({
      userData: "cloud-init.user-data",
      networkConfig: "cloud-init.network-config",
    });
    expect(await cloudInitKeys(await lxdLike(["network"], {}))).toEqual({
      userData: "user.user-data",
      networkConfig: "user.network-config",
    });
  });
});

describe("payload auto", () => {
  it("follows the image: labgate.cloud_init, then Ubuntu / variant cloud, else push", async () => {
    expect(await resolvePayloadMode(await lxdLike([], { "labgate.cloud_init": "true" }), options())).toBe(
      "cloud-init",
    );
    expect(
      await resolvePayloadMode(await lxdLike([], { "labgate.cloud_init": "false", os: "ubuntu" }), options()),
    ).toBe("push");
    expect(await resolvePayloadMode(await lxdLike([], { os: "Ubuntu" }), options())).toBe("cloud-init");
    expect(await resolvePayloadMode(await lxdLike([], { variant: "cloud" }), options())).toBe("cloud-init");
    expect(await resolvePayloadMode(await lxdLike([], { os: "debian" }), options())).toBe("push");
  });

  it("an explicit payload option wins over the image", async () => {
    expect(
      await resolvePayloadMode(await lxdLike([], { "labgate.cloud_init": "true" }), options("push")),
    ).toBe("push");
  });
});
