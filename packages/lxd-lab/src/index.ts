export type { CheckResult, LabProvider, ResourceRecord, Step, StepContext } from "./engine/step.js";
export { StepFailedError } from "./errors.js";
export type { LabAppSpec, LabLbSpec, LabNetworkSpec, LabSpec, ProviderName } from "./spec/lab-spec.js";
