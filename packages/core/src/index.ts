export {
  cloudInitMetadata,
  cloudInitUserData,
  DEFAULT_ROUTE,
  guestinfoKeys,
  type NicSelector,
  networkConfig,
  renderCloudConfig,
  renderNetworkConfig,
  type StaticIpv4,
  staticNetworkConfig,
} from "./adapters/cloud-init.js";
export { type CommandRunner, defaultCommandRunner } from "./adapters/command-runner.js";
export { EsxiAdapter, type EsxiAdapterOptions } from "./adapters/esxi.js";
export { LocalAdapter, type LocalAdapterOptions } from "./adapters/local.js";
export { localLoopbackPoolConfig } from "./adapters/local-pool.js";
export {
  acceptsConnections,
  logTail,
  ownedProcess,
  type ProcessNode,
  processArgv,
  processRunning,
  type StopProcessNodeOptions,
  startProcessNode,
  stopProcessNode,
  waitForProcessNode,
} from "./adapters/local-process.js";
export { LxdAdapter, type LxdAdapterOptions } from "./adapters/lxd.js";
export {
  createLxdNode,
  destroyLxdNode,
  getLxdInstance,
  getLxdNode,
  LXD_CLOUD_INIT_KEYS,
  LXD_LEGACY_CLOUD_INIT_KEYS,
  type LxdCloudInitKeys,
  type LxdNodeCallOptions,
  type LxdNodeInfo,
  type LxdNodeSpec,
  lxdNodeBody,
  lxdNodeState,
  startLxdNode,
  waitLxdNodeRunning,
} from "./adapters/lxd-node.js";
export { OpenNebulaAdapter, type OpenNebulaAdapterOptions } from "./adapters/opennebula.js";
export {
  instantiateOneVm,
  type OneVmInstantiation,
  type OneVmNode,
  oneNodeState,
  oneVmInstantiation,
  terminateOneVm,
  waitOneVmRunning,
} from "./adapters/opennebula-node.js";
export { ProxmoxAdapter, type ProxmoxAdapterOptions } from "./adapters/proxmox.js";
export {
  type CreateAdapterOptions,
  createAdapter,
  type PlatformAdapterFactory,
  type RegisteredPlatform,
  registerPlatformAdapter,
} from "./adapters/registry.js";
export type {
  CallOptions,
  DeploymentPlan,
  NodeInfo,
  NodeRef,
  NodeState,
  PlannedCall,
  PlatformAdapter,
  PlatformCapabilities,
  ResolvedNetwork,
  ResolvedSpec,
  WaitOptions as AdapterWaitOptions,
} from "./adapters/types.js";
export { INTENT_KEY } from "./adapters/types.js";
export { type PollOptions, pollUntil, waitForRunning } from "./adapters/wait.js";
export { checkDeployment } from "./deploy-rules/check-deployment.js";
export { type DeploySpecDocument, deploySpecJsonSchema } from "./deploy-rules/deploy-spec-schema.js";
export {
  DEFAULT_DEPLOY_STATE_DIR,
  type DeployRecord,
  deployStatePath,
  makeDeployStateDir,
  readDeployRecord,
  removeDeployRecord,
  writeDeployRecord,
} from "./deploy-rules/deploy-state.js";
export { type Finding, type FindingSeverity, formatFinding, hasErrors } from "./deploy-rules/findings.js";
export {
  loadDeploySpec,
  type ParsedSpec,
  parseDeploySpec,
  validateDeploySpec,
} from "./deploy-rules/parse-spec.js";
export {
  deployOwner,
  previewAllocation,
  type ResolveResult,
  resolveDeployNetwork,
} from "./deploy-rules/resolve-network.js";
export { checkDeployRules, platformOptions, type RuleCapabilities, usesDhcp } from "./deploy-rules/rules.js";
export {
  CLOUD_PLATFORMS,
  type DeployImage,
  type DeployNetwork,
  type DeploySpec,
  type ImageFormat,
  LOCAL_DEFAULT_CIDR,
  ON_PREM_PLATFORMS,
  type OsFamily,
  PLATFORMS,
  type PlatformName,
} from "./deploy-rules/spec.js";
export {
  type CodeOf,
  type CodeTable,
  CommandFailedError,
  CommandNotFoundError,
  codeTable,
  DeployNotConfirmedError,
  type DeploySpecCode,
  DeploySpecError,
  errorClassesIn,
  exitCodeOf,
  type HostKeyCode,
  HostKeyError,
  type InvalidAddressCode,
  InvalidAddressError,
  type InvalidInputCode,
  InvalidInputError,
  type IpLedgerCode,
  IpLedgerError,
  type IpPoolConfigCode,
  IpPoolConfigError,
  type IpPoolRequestCode,
  IpPoolRequestError,
  type IpProbeCode,
  IpProbeError,
  isLabgateError,
  type LabgateCode,
  LabgateError,
  type LabgateErrorClass,
  type LabgateErrorOptions,
  type OpenNebulaCode,
  OpenNebulaError,
  type PlatformApiCode,
  PlatformApiError,
  type PlatformConfigCode,
  PlatformConfigError,
  PlatformSdkMissingError,
  PlatformTimeoutError,
  type PreconditionCode,
  PreconditionError,
  type RunnerTimeoutCode,
  RunnerTimeoutError,
  type SshConnectCode,
  SshConnectError,
  type StateCode,
  StateError,
  SubnetExhaustedError,
} from "./errors.js";
export { EXIT_CODE_MEANINGS, ExitCode, type ExitCodeValue } from "./exit-codes.js";
export { type AtomicWriteOptions, removeOrphanTempFiles, writeFileAtomic } from "./fs/atomic-write.js";
export { acquireFileLock, type FileLockOptions, isProcessAlive, withFileLock } from "./fs/file-lock.js";
export { readJsonFile } from "./fs/read-json-file.js";
export { resolveStatePath } from "./fs/real-path.js";
export {
  type LedgerChange,
  type PlanContext,
  planAllocation,
  planConflict,
  planRelease,
  planReservation,
} from "./ip-pool/allocator.js";
export {
  type AuditLogRead,
  auditLogPath,
  type IpAuditEntry,
  readAuditLog,
} from "./ip-pool/audit-log.js";
export {
  isUsableAddress,
  parseCidr,
  type Subnet,
  subnetContains,
  subnetOf,
  subnetsOverlap,
} from "./ip-pool/cidr.js";
export { loadIpPoolConfig, validateIpPoolConfig } from "./ip-pool/config.js";
export { ipPoolConfigJsonSchema } from "./ip-pool/config-schema.js";
export { type IpChangeOptions, IpPool, type NetworkProbeAnswer } from "./ip-pool/ip-pool.js";
export { formatIpv4, isValidIpv4, parseIpv4, prefixToMask, prefixToNetmask } from "./ip-pool/ipv4.js";
export { emptyLedger, type IpLedger, readLedger, validateLedger, writeLedger } from "./ip-pool/ledger.js";
export { assertLedgerMatchesConfig } from "./ip-pool/ledger-config-check.js";
export {
  FileLedgerStore,
  type LedgerLockScope,
  type LedgerStore,
  type LedgerTransaction,
} from "./ip-pool/ledger-store.js";
export { findNetworkContaining, type NetworkView, resolveNetwork } from "./ip-pool/network-view.js";
export {
  assertValidOwner,
  isLabOwner,
  type LabOwner,
  labOwner,
  parseLabOwner,
  quoteOwner,
} from "./ip-pool/owner.js";
export {
  DEFAULT_IP_POOLS_CONFIG,
  defaultIpPoolStatePath,
  resolveIpPoolConfigPath,
} from "./ip-pool/paths.js";
export { isPostgresUrl, PgLedgerStore, redactPostgresUrl } from "./ip-pool/pg-ledger-store.js";
export {
  type LxdAddressSource,
  localAddresses,
  lxdAddresses,
  networkConfigAddresses,
} from "./ip-pool/platform-addresses.js";
export { type OneAddressSource, openNebulaAddresses } from "./ip-pool/platform-addresses-opennebula.js";
export {
  ipconfigAddress,
  type ProxmoxAddressOptions,
  proxmoxAddresses,
} from "./ip-pool/platform-addresses-proxmox.js";
export {
  type AddressProbe,
  localIpv4Interfaces,
  type ProbeAnswer,
  type ProbeTarget,
  probePlan,
  systemProbe,
} from "./ip-pool/probe.js";
export {
  ownerNamesHolder,
  type PlatformAddress,
  type ReconcileReport,
  reconcile,
} from "./ip-pool/reconcile.js";
export type {
  IpAllocation,
  IpConflict,
  IpNetworkConfig,
  IpPoolConfig,
  IpPoolOptions,
  IpRange,
  IpReleaseSelector,
  ProbeMethod,
} from "./ip-pool/types.js";
export { configDrift, deviceDrift, isLxdManagedKey } from "./platforms/lxd/config-diff.js";
export {
  instanceStateBody,
  instanceStateCall,
  LxdClient,
  type LxdExecOptions,
  type LxdImageImportOptions,
  type LxdPushFileOptions,
  type LxdStateAction,
  type LxdStateOptions,
  type LxdWaitOptions,
} from "./platforms/lxd/lxd-client.js";
export {
  LxdApiError,
  LxdNotFoundError,
  LxdOperationFailedError,
  LxdTimeoutError,
  LxdUnreachableError,
} from "./platforms/lxd/lxd-errors.js";
export { DEFAULT_LXD_SOCKETS, findLxdSocket, lxdSocketCandidates } from "./platforms/lxd/socket-path.js";
export {
  type LxdEnvelope,
  type LxdRequest,
  LxdTransport,
  type LxdTransportOptions,
} from "./platforms/lxd/transport.js";
export type * from "./platforms/lxd/types.js";
export {
  describeCall,
  OpenNebulaClient,
  type OpenNebulaClientOptions,
  type VmAction,
} from "./platforms/opennebula/client.js";
export {
  contextCapabilities,
  ONE_CONTEXT_VERSIONS,
  type OneContextVersion,
} from "./platforms/opennebula/context-versions.js";
export {
  type OneAddressRange,
  OneDocumentError,
  type OneHost,
  type OneImage,
  type OneLease,
  type OneMarketApp,
  type OneNic,
  type OneTemplate,
  type OneVm,
  type OneVnet,
  parseHost,
  parseHostPool,
  parseImage,
  parseImagePool,
  parseTemplate,
  parseTemplatePool,
  parseVm,
  parseVmPool,
  parseVnet,
  parseVnetPool,
  templateChild,
  templateText,
  type XmlNode,
} from "./platforms/opennebula/documents.js";
export { checkLxdImageUrl, type LxdImageUrl } from "./platforms/opennebula/lxd-image-url.js";
export {
  exportMarketAppImage,
  findMarketApp,
  marketImageTemplate,
  marketSchedRequirements,
} from "./platforms/opennebula/market-export.js";
export { OneErrorCode, oneApiError, oneErrorCodeName } from "./platforms/opennebula/one-errors.js";
export {
  DEFAULT_XMLRPC_PORT,
  defaultEndpoint,
  type OpenNebulaConnectionConfig,
  type ResolvedConnection,
  resolveConnection,
  resolveEndpoint,
  resolveSession,
} from "./platforms/opennebula/session.js";
export {
  HOST_STATES,
  hostStateName,
  IMAGE_STATES,
  imageStateName,
  isLcmFailure,
  LCM_STATES,
  lcmStateName,
  stateValue,
  VM_STATES,
  VNET_STATES,
  vmStateLabel,
  vmStateName,
  vnetStateName,
} from "./platforms/opennebula/states.js";
export {
  type TemplateObject,
  type TemplateValue,
  toTemplateXml,
} from "./platforms/opennebula/template-xml.js";
export {
  isVmShuttingDown,
  type TerminateOptions,
  type TerminateOutcome,
  terminateVm,
} from "./platforms/opennebula/vm-terminate.js";
export {
  type HostWaitOptions,
  hostError,
  hostVerdict,
  type WaitOptions,
  waitForHostMonitored,
  waitForImageReady,
  waitForVmDone,
  waitForVmRunning,
  waitForVnetReady,
} from "./platforms/opennebula/wait.js";
export {
  decodeMethodResponse,
  encodeMethodCall,
  escapeXml,
  type XmlRpcParam,
  XmlRpcParseError,
  type XmlRpcValue,
} from "./platforms/opennebula/xmlrpc.js";
export { isGone, type ProcStat, readProcStat } from "./process/proc-stat.js";
export {
  appendKnownHost,
  checkKnownHosts,
  fingerprintOf,
  type HostKeyVerdict,
  type KnownHostEntry,
  keyTypeOf,
  knownHostsName,
  normalizeFingerprint,
  parseKnownHosts,
  patternsMatch,
} from "./runner/host-keys.js";
export { LocalRunner, type LocalRunnerOptions } from "./runner/local-runner.js";
export {
  commandWords,
  displayCommandLine,
  displayQuote,
  remoteCommandLine,
  shellQuote,
} from "./runner/shell-quote.js";
export { SshRunner, type SshRunnerOptions } from "./runner/ssh-runner.js";
export type { Runner, RunOptions, RunResult } from "./runner/types.js";
export { clearRegisteredSecrets, REDACTED, redact, redactValue, registerSecret } from "./util/redact.js";
export { sleep } from "./util/sleep.js";
export { type TextTableOptions, textTable } from "./util/text.js";
