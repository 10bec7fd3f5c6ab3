import { createInterface } from "node:readline";

/** Asks `question [y/N]` on stderr and reads one line from stdin: true only for y or yes; end of input is a no. */
export async function askYes(
  question: string,
  io: { stdin: NodeJS.ReadableStream; stderr: NodeJS.WritableStream },
): Promise<boolean> {
  io.stderr.write(`${question} [y/N] `);
  const rl = createInterface({ input: io.stdin, terminal: false });
  const answer = await new Promise<string | undefined>((resolve) => {
    rl.once("line", resolve);
    rl.once("close", () => resolve(undefined));
  });
  rl.close();
  return answer !== undefined && /^y(es)?$/i.test(answer.trim());
}
