import { createAdapter, type DeploySpec } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { AwsAdapter } from "./aws.js";
import { AzureAdapter } from "./azure.js";
import { registerCloudAdapters } from "./register.js";

describe("registerCloudAdapters: core's createAdapter builds the cloud adapters once clouds is loaded", () => {
  it("is needed, and then gives aws and azure their adapters configured from the spec", () => {
    expect(() => createAdapter("aws")).toThrow(expect.objectContaining({ code: "PLATFORM_SDK_MISSING" }));
    registerCloudAdapters();
    const spec: DeploySpec = {
      name: "vm1",
      platform: "aws",
      os: { family: "linux", distro: "ubuntu" },
      cores: 2,
      memory_mib: 2048,
      network: {},
      platform_options: { aws: { region: "eu-central-1" } },
    };
    const aws = createAdapter("aws", { spec, env: {} });
    expect(aws).toBeInstanceOf(AwsAdapter);
    // The options reached the adapter: the region comes from the spec, or from the environment it was given.
    const fields = (s: DeploySpec, env: NodeJS.ProcessEnv) =>
      createAdapter("aws", { spec: s, env })
        .validate(s)
        .map((f) => f.field);
    const noRegion = { ...spec, platform_options: { aws: {} } };
    expect(fields(spec, {})).not.toContain("platform_options.aws.region");
    expect(fields(noRegion, {})).toContain("platform_options.aws.region");
    expect(fields(noRegion, { AWS_REGION: "eu-west-1" })).not.toContain("platform_options.aws.region");
    expect(createAdapter("azure", { env: {} })).toBeInstanceOf(AzureAdapter);
  });
});
