/**
 * Exit codes shared by every labgate command. Each failure class gets its own code so scripts
 * can tell "your input is wrong" from "the machine is missing something" from "the target failed".
 */
export const ExitCode = {
  OK: 0,
  /** A check the user asked for did not pass: an SLO failed, round-robin verification failed. */
  CHECK_FAILED: 1,
  /** Bad input: a malformed flag, config, spec, SLO expression or address. */
  INVALID_INPUT: 2,
  /** A state or ledger file is corrupt or locked by someone else. */
  STATE: 3,
  /** Something this machine needs is missing or taken: a binary, a port, a daemon, a storage pool. */
  PRECONDITION: 4,
  /** A command, remote API or platform call failed while doing the work. */
  EXTERNAL: 5,
  /** A finite resource ran out: no free address left in a subnet. */
  EXHAUSTED: 6,
  /** The user declined at a gate, or no answer could be asked for (no TTY and no --yes). */
  NOT_CONFIRMED: 7,
  /** A wait ran past its deadline. */
  TIMEOUT: 8,
  /** Interrupted by a signal (SIGINT). */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code means, for people: README.md's exit-code table and `labgate errors` say exactly this. */
export const EXIT_CODE_MEANINGS: Readonly<Record<keyof typeof ExitCode, string>> = {
  OK: "done; every check and SLO passed",
  CHECK_FAILED: "a check you asked for failed: an SLO, round-robin verification, `lab status` not healthy",
  INVALID_INPUT: "bad input: a flag, spec, config, SLO expression or address (the message names it)",
  STATE: "a state or ledger file is broken, locked by someone else, or holds another lab's state",
  PRECONDITION:
    "something this machine needs is missing or taken: a binary, a port, a daemon, a storage pool",
  EXTERNAL: "a command or remote API failed while doing the work",
  EXHAUSTED: "no address left in a subnet",
  NOT_CONFIRMED: "not confirmed: declined at a gate, or no terminal and no `--yes`",
  TIMEOUT: "a wait ran past its deadline",
  INTERRUPTED: "interrupted (Ctrl-C); `labgate lab up` resumes",
};
