import { PlatformSdkMissingError } from "../errors.js";

/**
 * Imports a cloud SDK that @labgate/clouds declares as an optional peer dependency. A package that is not
 * installed becomes PLATFORM_SDK_MISSING naming every package the platform needs (one install command),
 * while any other failure inside the SDK propagates unchanged.
 */
export async function importOptionalSdk<T>(
  platform: string,
  specifier: string,
  platformPackages: readonly string[],
  load: (specifier: string) => Promise<T> = (s) => import(s) as Promise<T>,
): Promise<T> {
  try {
    return await load(specifier);
  } catch (error) {
    if (isMissingPackage(error, specifier))
      throw new PlatformSdkMissingError(platform, platformPackages, error);
    throw error;
  }
}

/** Only the package itself missing counts: a broken transitive dependency is a different problem. */
function isMissingPackage(error: unknown, specifier: string): boolean {
  const e = error as { code?: string; message?: string };
  return (
    (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND") &&
    typeof e.message === "string" &&
    (e.message.includes(`'${specifier}'`) || e.message.includes(`"${specifier}"`))
  );
}

/** The SDK packages each cloud adapter imports. */
export const AWS_SDK_PACKAGES = ["@aws-sdk/client-ec2"] as const;
export const AZURE_SDK_PACKAGES = [
  "@azure/arm-compute",
  "@azure/arm-network",
  "@azure/identity",
  "@azure/core-auth",
] as const;

/** The package holding the AWS and Azure adapters; core knows its name only to say what to install. */
export const CLOUDS_PACKAGE = "@labgate/clouds";

/** Everything `npm install` needs for a cloud platform: the adapters' package and that platform's SDK. */
export function cloudInstallPackages(platform: "aws" | "azure"): readonly string[] {
  return [CLOUDS_PACKAGE, ...(platform === "aws" ? AWS_SDK_PACKAGES : AZURE_SDK_PACKAGES)];
}
