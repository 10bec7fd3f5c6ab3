import { type CreateAdapterOptions, registerPlatformAdapter } from "@labgate/core";
import { AwsAdapter } from "./aws.js";
import { AzureAdapter } from "./azure.js";

/**
 * Makes core's createAdapter("aws" | "azure") build these adapters. Loading them costs no SDK: each
 * adapter imports its SDK on its first API call (PLATFORM_SDK_MISSING with the install command if absent).
 */
export function registerCloudAdapters(): void {
  registerPlatformAdapter("aws", (options: CreateAdapterOptions) => new AwsAdapter(options));
  registerPlatformAdapter("azure", (options: CreateAdapterOptions) => new AzureAdapter(options));
}
