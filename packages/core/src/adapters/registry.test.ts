import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeploySpec } from "../deploy-rules/spec.js";
import { ExitCode } from "../exit-codes.js";
import { LocalAdapter } from "./local.js";
import { type CreateAdapterOptions, createAdapter, registerPlatformAdapter } from "./registry.js";

const REGISTRY_KEY = Symbol.for("labgate.platformAdapters");
const SPEC = { name: "vm1", platform: "aws" } as DeploySpec;

afterEach(() => {
  (globalThis as { [REGISTRY_KEY]?: Map<string, unknown> })[REGISTRY_KEY]?.clear();
});

describe("createAdapter: the cloud platforms come from a registration, core has no SDK edge", () => {
  it("without @labgate/clouds registered, aws is PLATFORM_SDK_MISSING naming the install command", () => {
    let error: unknown;
    try {
      createAdapter("aws", { spec: SPEC });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: "PLATFORM_SDK_MISSING",
      exitCode: ExitCode.PRECONDITION,
      hint: "Install it next to labgate: npm install @labgate/clouds @aws-sdk/client-ec2",
      details: { platform: "aws", packages: ["@labgate/clouds", "@aws-sdk/client-ec2"] },
    });
  });

  it("names every Azure SDK package for azure", () => {
    expect(() => createAdapter("azure")).toThrow(
      expect.objectContaining({
        hint: "Install it next to labgate: npm install @labgate/clouds @azure/arm-compute @azure/arm-network @azure/identity @azure/core-auth",
      }),
    );
  });

  it("builds a registered platform's adapter with the spec and environment it was asked for", () => {
    const seen: CreateAdapterOptions[] = [];
    const built = new LocalAdapter();
    registerPlatformAdapter("aws", (options) => {
      seen.push(options);
      return built;
    });
    const env = { AWS_REGION: "eu-central-1" };
    expect(createAdapter("aws", { spec: SPEC, env })).toBe(built);
    expect(seen).toEqual([{ spec: SPEC, env }]);
    // Only the platform that was registered: azure still names what to install.
    expect(() => createAdapter("azure")).toThrow(expect.objectContaining({ code: "PLATFORM_SDK_MISSING" }));
  });

  it("a registration made through a second copy of core is seen by the first (one registry per process)", async () => {
    vi.resetModules();
    const secondCopy = "./registry.js?copy"; // a query string makes the loader evaluate the module again
    const copy = (await import(secondCopy)) as typeof import("./registry.js");
    expect(copy.registerPlatformAdapter).not.toBe(registerPlatformAdapter);
    const built = new LocalAdapter();
    copy.registerPlatformAdapter("azure", () => built);
    expect(createAdapter("azure")).toBe(built);
  });

  it("leaves the on-prem platforms to core", () => {
    expect(createAdapter("local").name).toBe("local");
    expect(createAdapter("proxmox").name).toBe("proxmox");
  });
});
