import { ExitCode } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { loadSdk } from "./load-sdk.js";

describe("loadSdk: the cloud SDKs are optional peers of @labgate/clouds, loaded on first use", () => {
  it("resolves an installed SDK from this package", async () => {
    const sdk = await loadSdk<typeof import("@aws-sdk/client-ec2")>("aws", "@aws-sdk/client-ec2");
    expect(typeof sdk.EC2Client).toBe("function");
  });

  it("a missing SDK is PLATFORM_SDK_MISSING with one install command for the platform", async () => {
    const error = await loadSdk("azure", "@labgate-absent/arm-compute").catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "PLATFORM_SDK_MISSING",
      exitCode: ExitCode.PRECONDITION,
      hint: "Install it next to labgate: npm install @labgate/clouds @azure/arm-compute @azure/arm-network @azure/identity @azure/core-auth",
      details: { platform: "Azure" },
    });
  });
});
