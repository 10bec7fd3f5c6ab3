import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { AwsAdapter, AzureAdapter } from "@labgate/clouds";
import { createAdapter, ExitCode } from "@labgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPlatformAdapters } from "./deploy-platforms.js";

type Clouds = typeof import("@labgate/clouds");

/**
 * A loader that resolves @labgate/clouds the way Node does from `dir` (node's own resolver: the test
 * runner's aliases would otherwise always find the sources), then imports what it found.
 */
const resolvingFrom = (dir: string) => async (): Promise<Clouds> => {
  const found = createRequire(join(dir, "probe.js")).resolve("@labgate/clouds");
  return (await import(pathToFileURL(found).href)) as Clouds;
};

describe("loadPlatformAdapters: the CLI loads @labgate/clouds only for aws and azure", () => {
  // A directory without node_modules: a machine where labgate was installed without the cloud adapters.
  let dir: string;
  let loadFromEmptyDir: () => Promise<Clouds>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lgt-clouds-"));
    loadFromEmptyDir = resolvingFrom(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("without @labgate/clouds installed, aws is PLATFORM_SDK_MISSING naming the install command", async () => {
    const error = await loadPlatformAdapters("aws", loadFromEmptyDir).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "PLATFORM_SDK_MISSING",
      exitCode: ExitCode.PRECONDITION,
      hint: "Install it next to labgate: npm install @labgate/clouds @aws-sdk/client-ec2",
    });
    expect((error as Error).cause).toMatchObject({ code: "MODULE_NOT_FOUND" });
  });

  it("an on-prem platform never loads it", async () => {
    await expect(loadPlatformAdapters("proxmox", loadFromEmptyDir)).resolves.toBeUndefined();
    await expect(loadPlatformAdapters("local", loadFromEmptyDir)).resolves.toBeUndefined();
  });

  it("installed, it registers the AWS and Azure adapters with core", async () => {
    expect(() => createAdapter("azure")).toThrow(expect.objectContaining({ code: "PLATFORM_SDK_MISSING" }));
    await loadPlatformAdapters("azure");
    expect(createAdapter("azure", { env: {} })).toBeInstanceOf(AzureAdapter);
    expect(createAdapter("aws", { env: {} })).toBeInstanceOf(AwsAdapter);
  });
});
