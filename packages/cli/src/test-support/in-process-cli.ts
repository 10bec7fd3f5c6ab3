import { main } from "../main.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI entry point in-process and captures what it writes. */
export async function runCliInProcess(args: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const w1 = process.stdout.write;
  const w2 = process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => {
    stdout += String(c);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => {
    stderr += String(c);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(["node", "labgate", ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
    process.exitCode = undefined;
  }
}
