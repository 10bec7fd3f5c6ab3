export {
  InvalidInputError,
  isLabgateError,
  LabgateError,
  type LabgateErrorOptions,
  PreconditionError,
  StateError,
} from "./errors.js";
export { ExitCode, type ExitCodeValue } from "./exit-codes.js";
export { type AtomicWriteOptions, writeFileAtomic } from "./fs/atomic-write.js";
export { acquireFileLock, type FileLockOptions, isProcessAlive, withFileLock } from "./fs/file-lock.js";
export { readJsonFile } from "./fs/read-json-file.js";
export { clearRegisteredSecrets, REDACTED, redact, redactValue, registerSecret } from "./util/redact.js";
