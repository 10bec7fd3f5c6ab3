/** Options of one command run, locally or over SSH. */
export interface RunOptions {
  /** Run as root through `sudo -n --` (or `sudo -S` when the runner holds a sudo password). */
  sudo?: boolean;
  /** Run as this user through sudo (`sudo -n -u USER --`); implies sudo. */
  sudoUser?: string;
  /** Kill the command after this long; the run fails with RUNNER_TIMEOUT (exit 8). */
  timeoutMs?: number;
  /** Written to the command's stdin, then stdin is closed. */
  input?: string;
  /** Extra environment variables, passed as `env 'K=V' cmd` remotely. */
  env?: Record<string, string>;
  /** Working directory; remotely `cd -- 'dir' && exec cmd`, so a missing directory never runs the command elsewhere. */
  cwd?: string;
  /** A non-zero exit is returned in the result instead of thrown as COMMAND_FAILED. */
  allowFailure?: boolean;
  /** Aborts (kills) the command; the run fails with RUNNER_ABORTED. */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Redacted display form, e.g. `ssh oneadmin@10.0.0.5 -- sudo -n -- usermod -aG lxd oneadmin`. */
  command: string;
  durationMs: number;
}

/** Runs commands as argument arrays, never through a local shell; remote arguments are each shell-quoted. */
export interface Runner {
  /** Where commands run, for people: "local" or "oneadmin@10.0.0.5:22". */
  readonly target: string;
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** The redacted command line as a person would type it (no I/O). */
  describe(command: string, args: readonly string[], options?: RunOptions): string;
  /** Releases connections; the runner reconnects on the next run. */
  close(): Promise<void>;
}
