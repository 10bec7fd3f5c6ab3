/** What every lab command reads and writes; injectable so tests drive it without a real terminal. */
export interface LabIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  /** Aborts the run (Ctrl-C). When absent, the command listens for SIGINT itself. */
  signal?: AbortSignal;
}

export const processIo = (): LabIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
});
