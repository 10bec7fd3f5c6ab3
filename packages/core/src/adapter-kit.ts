/**
 * `@labgate/core/adapter-kit`: what a platform adapter living outside core (today @labgate/clouds) builds
 * on — claims for crash recovery, option readers that produce findings, response-shape checks and the
 * optional-SDK loader. Kept off the main entry point: an adapter's building blocks, not labgate's API.
 */
export { claimOf, nameTakenError, newClaim } from "./adapters/claims.js";
export {
  AWS_SDK_PACKAGES,
  AZURE_SDK_PACKAGES,
  CLOUDS_PACKAGE,
  cloudInstallPackages,
  importOptionalSdk,
} from "./adapters/optional-sdk.js";
export { missingOption, OptionReader, requireEnv } from "./adapters/options.js";
export {
  checkField,
  describeValue,
  invalidResponse,
  isRecord,
  type Shape,
  shapes,
} from "./adapters/response-shape.js";
