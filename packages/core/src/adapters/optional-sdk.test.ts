import { describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.js";
import { AWS_SDK_PACKAGES, importOptionalSdk } from "./optional-sdk.js";

describe("importOptionalSdk: cloud SDKs are optional peers, loaded on first use", () => {
  it("turns a package that is not installed into PLATFORM_SDK_MISSING with the install command", async () => {
    const error = await importOptionalSdk("AWS", "@labgate-absent/client-ec2", AWS_SDK_PACKAGES).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: "PLATFORM_SDK_MISSING",
      exitCode: ExitCode.PRECONDITION,
      hint: "Install it next to labgate: npm install @aws-sdk/client-ec2",
      details: { platform: "AWS", packages: ["@aws-sdk/client-ec2"] },
    });
    expect((error as Error).message).toContain("optional peer dependencies");
  });

  it("loads an installed package, and lets other failures through unchanged", async () => {
    // Core declares no SDK: an installed package of its own stands in (@labgate/clouds tests the SDKs).
    const yaml = await importOptionalSdk<typeof import("yaml")>("AWS", "yaml", AWS_SDK_PACKAGES);
    expect(typeof yaml.parse).toBe("function");
    const broken = Object.assign(new Error("Cannot find package 'left-pad' imported from x"), {
      code: "ERR_MODULE_NOT_FOUND",
    });
    await expect(
      importOptionalSdk("AWS", "@aws-sdk/client-ec2", AWS_SDK_PACKAGES, () => Promise.reject(broken)),
    ).rejects.toBe(broken);
  });
});
