import type { PlatformName } from "@labgate/core";
import { cloudInstallPackages, importOptionalSdk } from "@labgate/core/adapter-kit";

type Clouds = typeof import("@labgate/clouds");
type LoadClouds = () => Promise<Clouds>;

const loadFromCli: LoadClouds = () => import("@labgate/clouds");

/**
 * The one place the CLI registers platform adapters that live outside core: before a deploy command
 * creates an aws or azure adapter, @labgate/clouds is imported (only then, so `bench`, `lab` and the
 * on-prem platforms never load it) and registers them. Missing, it is PLATFORM_SDK_MISSING (exit 4)
 * naming `npm install @labgate/clouds <the platform's SDKs>`.
 */
export async function loadPlatformAdapters(
  platform: PlatformName,
  load: LoadClouds = loadFromCli,
): Promise<void> {
  if (platform !== "aws" && platform !== "azure") return;
  const clouds = await importOptionalSdk<Clouds>(
    platform,
    "@labgate/clouds",
    cloudInstallPackages(platform),
    () => load(),
  );
  clouds.registerCloudAdapters();
}
