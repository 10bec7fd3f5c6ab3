import { cloudInstallPackages, importOptionalSdk } from "@labgate/core/adapter-kit";

/**
 * Imports a cloud SDK on first use. It resolves from this package, whose optional peers the SDKs are, and
 * a missing one becomes PLATFORM_SDK_MISSING naming `npm install @labgate/clouds <the platform's SDKs>`.
 */
export function loadSdk<T>(platform: "aws" | "azure", specifier: string): Promise<T> {
  return importOptionalSdk<T>(
    platform === "aws" ? "AWS" : "Azure",
    specifier,
    cloudInstallPackages(platform),
    (s) => import(s) as Promise<T>,
  );
}
