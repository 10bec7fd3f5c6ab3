export {
  type AutocannonClient,
  type AutocannonOptions,
  type AutocannonSummary,
  startAutocannon,
} from "./autocannon.js";
export {
  COMPARE_ALPHA,
  type CompareResult,
  type CompareRow,
  type CompareSide,
  compareResults,
  NOISE_MODEL,
  readResultFile,
} from "./compare.js";
export {
  compareTable,
  formatCompareCell,
  formatCompareMarkdown,
  formatCompareText,
} from "./compare-format.js";
export { benjaminiHochberg, mannWhitneyP, minRoundsForAlpha, roundsNeeded } from "./compare-stats.js";
export { formatMicros, parseDuration } from "./duration.js";
export {
  captureEnvironment,
  environmentDifferences,
  environmentRows,
  labFingerprint,
  publicCommandLine,
} from "./environment.js";
export {
  BenchEngineError,
  BenchFileError,
  BenchOptionError,
  BenchReportError,
  type BenchSetupCode,
  BenchSetupError,
  SloSyntaxError,
} from "./errors.js";
export {
  type FaultTable,
  faultWindowTable,
  formatFaultWindows,
  resultFaultTable,
} from "./fault-windows/fault-table.js";
export {
  analyzeFaultWindows,
  type FaultWindowInput,
  type FaultWindowStats,
  RECOVERY_P99_FACTOR,
} from "./fault-windows/fault-windows.js";
export {
  describeRequest,
  describeRun,
  formatMeasurementText,
  formatResultText,
  resultTables,
} from "./format.js";
export {
  decodeHistogram,
  encodeHistogram,
  mergeEncodedHistograms,
  percentileDistribution,
} from "./histogram.js";
export { DEFAULTS, defaultWorkers, parseHeaderFlags, resolveOptions, validateUrl } from "./options.js";
export { JITTER_DEFINITION } from "./recorder.js";
export { checkReportDir } from "./report-dir.js";
export { renderHtmlReport } from "./report-html.js";
export { renderMarkdownReport } from "./report-md.js";
export { inferContentType, loadBodyFile, MAX_BODY_BYTES } from "./request-body.js";
export { MAX_REPEAT, mergeRounds, runRounds, summarizeRound } from "./rounds.js";
export { runBench } from "./run-bench.js";
export {
  applySlos,
  evaluateSlos,
  formatValue,
  loadSloFile,
  loadSloFileFaults,
  parseSlo,
  parseSlos,
  SLO_METRICS,
} from "./slo.js";
export { MAX_STAGES, parseStages, RampSchedule, type Stage } from "./stages.js";
export { TRUST_LIMITS } from "./trust.js";
export type {
  BackendStats,
  BenchEngine,
  BenchEnvironment,
  BenchHooks,
  BenchMode,
  BenchOptions,
  BenchProgress,
  BenchResult,
  EncodedHistograms,
  FaultRecord,
  GeneratorReport,
  GeneratorThread,
  JitterSummary,
  LabFingerprint,
  LatencySummary,
  PublicBenchOptions,
  RateReport,
  RequestBody,
  RequestCounts,
  ResolvedBenchOptions,
  RoundSummary,
  SeriesPoint,
  Slo,
  SloOperator,
  SloResult,
  SloVerdict,
} from "./types.js";
export { VERSION } from "./version.js";
export { type WrittenReports, writeReports } from "./write-reports.js";
