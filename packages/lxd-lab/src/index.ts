export { type LabBenchRecord, observedVsSlo } from "./bench-step/bench-record.js";
export {
  BENCH_DEFAULTS,
  BENCH_REQUEST,
  benchSettings,
  benchStepSlos,
  benchUrl,
  describeLoad,
  FAULT_SLO_METRICS,
  isFaultSlo,
  type ResolvedBenchSettings,
} from "./bench-step/bench-settings.js";
export {
  BENCH_STEP_ID,
  benchHealth,
  benchStep,
  describeBench,
  lastBench,
  loadLabBench,
} from "./bench-step/bench-step.js";
export {
  describeFailover,
  FAILOVER_STEP_ID,
  failoverHealth,
  failoverStep,
  type LabFailoverRecord,
  lastFailover,
} from "./bench-step/failover-step.js";
export {
  analyzeFaultRecords,
  expectedDetectionFor,
  expectedDetectionLines,
  type FaultBenchInput,
  type FaultBenchOutcome,
  type FaultRecord,
  faultRecords,
  formatFaultRecords,
  type PreparedFaults,
  runFaultBench,
  startFaults,
} from "./bench-step/fault-bench.js";
export { benchLabFingerprint, labFingerprintFromState, labTopology } from "./bench-step/lab-fingerprint.js";
export {
  LB_WATCH_INTERVAL_MS,
  type LbServerWatch,
  lbDownAfter,
  type ServerTransition,
  watchLbServers,
} from "./bench-step/lb-down-watch.js";
export { type LbWatchTarget, lbWatchTarget, loadLbWatchTarget } from "./bench-step/lb-watch-target.js";
export { assertFaultActionsSupported, faultActionsFor } from "./bench-step/provider-fault-actions.js";
export { withBenchStep } from "./bench-step/with-bench-step.js";
export { type DemoPhase, type DemoPhaseId, type DemoPhaseInput, demoPhases } from "./demo/demo-phases.js";
export type { DemoBench, DemoResult, DemoRun } from "./demo/demo-result.js";
export { type DemoPhaseEvent, type RunDemoOptions, runDemo } from "./demo/run-demo.js";
export { CREATE_NODE_STEP, type CreateNodeFacts, createNodeStep } from "./deploy/create-node-step.js";
export { splitPlanCalls, stepCall } from "./deploy/deploy-calls.js";
export {
  type DeployContext,
  type DeployReport,
  emptyDeployReport,
} from "./deploy/deploy-context.js";
export { type DeploymentSteps, planDeploymentSteps } from "./deploy/deploy-plan.js";
export {
  type DeployPlanStore,
  deployStepsPath,
  openDeployPlanStore,
  removeDeployProgress,
} from "./deploy/deploy-store.js";
export { canLookUp, findLeftovers, interruptedNotice } from "./deploy/leftovers.js";
export { RESERVE_ADDRESS_STEP, reserveAddressStep } from "./deploy/reserve-address-step.js";
export { WAIT_RUNNING_STEP, waitRunningStep } from "./deploy/wait-running-step.js";
export {
  autoYesGate,
  explainStep,
  type Gate,
  type GateAction,
  type GateDecision,
  type GateRequest,
  type PromptGateOptions,
  parseAnswer,
  promptGate,
  refusingGate,
} from "./engine/gate.js";
export {
  createJsonPlanStore,
  type JsonPlanStore,
  type JsonPlanStoreOptions,
} from "./engine/json-plan-store.js";
export { type LabDryRun, type LabDryRunStep, labDryRun } from "./engine/lab-dry-run.js";
export {
  type LabState,
  LabStateStore,
  STATE_FILE,
  type StepRecord,
  type StepStatus,
} from "./engine/lab-state.js";
export {
  assertVerified,
  type LabReadOptions,
  type LabStatus,
  labEndpoint,
  labStatus,
  labVerify,
  type ResourceStatusView,
  type StepStatusView,
} from "./engine/lab-status.js";
export {
  isManualStep,
  MANUAL_RESOURCE,
  type ManualInstructions,
  type ManualStep,
  type ManualStepOptions,
  manualStep,
} from "./engine/manual-step.js";
export type {
  Found,
  PlanOutcome,
  PlanOutcomeKind,
  PlanStep,
  PlanStore,
  RunMode,
  RunPlanHooks,
  RunPlanOptions,
  RunPlanResult,
  StepActions,
  StepCall,
  StepDescription,
} from "./engine/plan-step.js";
export {
  describeKnown,
  describePlan,
  type LabPlan,
  type PlannedStep,
  planSteps,
  selectSteps,
} from "./engine/plan-view.js";
export {
  type LabRunOptions,
  type LabRunResult,
  labDown,
  labUp,
  type StepOutcome,
  type StepOutcomeKind,
} from "./engine/run-lab.js";
export { runPlan, showDescription } from "./engine/run-plan.js";
export type {
  HealthState,
  LabProvider,
  LabStep,
  LabVerifyOptions,
  LabVerifyResult,
  ResourceHealth,
  ResourceRecord,
  StepContext,
} from "./engine/step.js";
export { createStepContext } from "./engine/step-context.js";
export { describeFailure, formatStepFailure, stepFailure } from "./engine/step-failure.js";
export {
  DeployStepError,
  type FaultActionCode,
  FaultActionError,
  HaproxyConfigError,
  type HaproxyRuntimeCode,
  HaproxyRuntimeError,
  ImageBuildError,
  LabInternalError,
  LabInterruptedError,
  LabSlosNotMetError,
  LabSpecError,
  LabVerifyFailedError,
  type NotConfirmedCode,
  NotConfirmedError,
  PortInUseError,
  StepFailedError,
  ToolOutputError,
} from "./errors.js";
export {
  type FaultActuator,
  type FaultHandle,
  type FaultRunOptions,
  type FaultRunResult,
  type FaultTimeline,
  runFaults,
} from "./faults/fault-runner.js";
export {
  assertFaultsFit,
  describeFault,
  FAULT_ACTIONS,
  type FaultAction,
  type FaultSpec,
  parseFault,
  parseFaults,
} from "./faults/fault-spec.js";
export {
  type HaproxyRuntimeApi,
  type HaproxyServerRuntimeState,
  haproxyServerState,
} from "./faults/haproxy-runtime.js";
export { faultGateStep, type LabFaultTarget, labFaultActuator } from "./faults/lab-faults.js";
export { lxdFaultActuator, lxdFaultCalls, lxdLbRuntimeApi } from "./faults/lxd-faults.js";
export { type LinkCommand, netemFault, parseRootNetem } from "./faults/netem-fault.js";
export {
  detectHaproxy,
  type HaproxyInfo,
  haproxySupportsHttpCheckSend,
  parseHaproxyVersionOutput,
} from "./haproxy/haproxy-binary.js";
export {
  buildLbCloudInit,
  LB_CONFIG_STAGING_PATH,
  LB_FALLBACK_CONFIG_PATH,
  renderLbSetupScript,
} from "./haproxy/lb-cloud-init.js";
export {
  DEFAULT_HAPROXY_TIMEOUTS,
  HAPROXY_METRICS_PATH,
  HAPROXY_STATS_PATH,
  type HaproxyBackendServer,
  type HaproxyConfigOptions,
  type HaproxyTimeouts,
  haproxyOptionsFromSpec,
  renderHaproxyConfig,
  type ServedByHeaderMode,
} from "./haproxy/render-config.js";
export {
  fetchHaproxyServerStatus,
  type HaproxyServerStatus,
  parseHaproxyStatsCsv,
} from "./haproxy/stats-csv.js";
export {
  assertValidHaproxyConfig,
  checkHaproxyConfig,
  checkHaproxyConfigFile,
  type HaproxyCheckResult,
} from "./haproxy/validate-config.js";
export {
  collectHostDiagnostics,
  type DiagnosticSection,
  formatDiagnostics,
  type HostDiagnostics,
} from "./host-prep/diagnostics.js";
export { hostPrepSteps } from "./host-prep/host-prep-steps.js";
export { restartNeeded } from "./host-prep/restart-step.js";
export { decideSnapHomeFix, type SnapHomeFix } from "./host-prep/snap-home-step.js";
export {
  type HostCommandRunner,
  type HostPrepOptions,
  type HostRecord,
  type HostRegistry,
  LXD_SOCKETS,
  type ResolvedHostPrep,
  resolveHostPrep,
} from "./host-prep/types.js";
export {
  FALLBACK_DEBIAN_MIRROR,
  findDebianMirror,
  mirrorFromDeb822,
  mirrorFromSourcesList,
} from "./image/debian-mirror.js";
export {
  CACHE_FILES,
  CLOUD_INIT_PACKAGES,
  DEFAULT_IMAGE_PACKAGES,
  DEFAULT_LXD_CLOUD_IMAGE,
  defaultImageCacheDir,
  type ImageBuildInput,
  type ImageBuildOptions,
  imageBuildOptions,
  imageProperties,
  renderImageMetadata,
} from "./image/image-build-options.js";
export { type ImageStep, imageBuildSteps } from "./image/image-build-steps.js";
export { type CachedImageInfo, readCachedImage, splitImageFingerprint } from "./image/image-cache.js";
export { type CommandCall, type ImageContext, imageContext } from "./image/image-context.js";
export { INIT_SCRIPT } from "./image/init-script.js";
export {
  type ImageBuildResult,
  type ImageStepOutcome,
  type RunImageBuildOptions,
  runImageBuild,
} from "./image/run-image-build.js";
export {
  APP_INSTALL_DIR,
  APP_SERVICE_NAME,
  type AppCloudInitOptions,
  buildAppCloudInit,
  renderAppSetupScript,
  renderAppSystemdUnit,
} from "./payload/app-cloud-init.js";
export { type CloudConfigFile, renderCloudConfig } from "./payload/cloud-config.js";
export {
  type PayloadFile,
  readSentimentAppFiles,
  SENTIMENT_APP_FILES,
  sentimentAppDir,
  sentimentAppEntry,
} from "./payload/sentiment-app.js";
export { localProvider } from "./providers/local/local-provider.js";
export { describePortOwners, findPortOwners, type PortOwner } from "./providers/local/port-owner.js";
export {
  DEFAULT_LXD_IMAGE,
  EXPOSE_DEVICE,
  LAB_MARKER_KEY,
  type LxdInstancePlan,
  type LxdLabOptions,
  lxdLabOptions,
  type PayloadMode,
} from "./providers/lxd/lxd-lab-options.js";
export { createLxdProvider, type LxdProviderOptions, lxdProvider } from "./providers/lxd/lxd-provider.js";
export { type LxdClientFactory, labIpPoolConfig } from "./providers/lxd/lxd-runtime.js";
export { lxdPreflight, type PreflightProblem, type PreflightReport } from "./providers/lxd/preflight-step.js";
export { createOpenNebulaProvider, openNebulaProvider } from "./providers/opennebula/one-lab.js";
export {
  type OneInstancePlan,
  type OneLabOptions,
  oneLabOptions,
} from "./providers/opennebula/one-lab-options.js";
export type {
  AddressPool,
  HostRunner,
  OneLabDeps,
  VerifyTarget,
} from "./providers/opennebula/one-lab-runtime.js";
export { driverForVersion, preflight } from "./providers/opennebula/preflight-step.js";
export {
  VBOX_RULE,
  type VirtualBoxForward,
  virtualBoxCommands,
  virtualBoxNatStep,
} from "./providers/opennebula/virtualbox-step.js";
export { getProvider, listProviders, registerProvider } from "./providers/registry.js";
export { defaultLabSpec, LAB_SPEC_DEFAULTS } from "./spec/default-lab-spec.js";
export {
  describeHealthCheck,
  expectedDetectionMs,
  HEALTH_CHECK_DEFAULTS,
  HEALTH_CHECK_LIMITS,
  labHealthCheck,
} from "./spec/health-check.js";
export type {
  LabAppSpec,
  LabBenchSpec,
  LabHealthCheckSpec,
  LabLbSpec,
  LabNetworkSpec,
  LabSpec,
  ProviderName,
} from "./spec/lab-spec.js";
export { type LabSpecDocument, labSpecJsonSchema } from "./spec/lab-spec-schema.js";
export {
  BUILTIN_SPEC_SOURCE,
  DEFAULT_SPEC_FILES,
  type LoadedLabSpec,
  loadLabSpec,
  parseSpecText,
} from "./spec/load-lab-spec.js";
export { BENCH_LIMITS, parseLabSpec } from "./spec/parse-lab-spec.js";
export { recordedSpec } from "./spec/recorded-spec.js";
export { type FaultListContext, type FieldFail, labAppNames, parseFaultList } from "./spec/spec-faults.js";
export { type HttpProbeResult, headerValue, httpProbe } from "./verify/http-probe.js";
export {
  formatRoundRobinReport,
  type RoundRobinOptions,
  type RoundRobinReport,
  verifyRoundRobin,
} from "./verify/round-robin.js";
