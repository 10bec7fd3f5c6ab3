/**
 * Output whose reader went away (`labgate lab up --yes | tee log` where the same Ctrl-C killed tee,
 * `| head`) must not crash the process with an unhandled EPIPE and exit 1: what was left to print has
 * nowhere to go, and the exit code (130 for Ctrl-C) must still say what happened.
 */
export function ignoreClosedOutput(...streams: NodeJS.WritableStream[]): void {
  for (const stream of streams) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED") return;
      throw error;
    });
  }
}
