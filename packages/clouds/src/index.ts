export { AwsAdapter, type AwsAdapterOptions } from "./aws.js";
export { AzureAdapter, type AzureAdapterOptions } from "./azure.js";
export { registerCloudAdapters } from "./register.js";
