import { type ChildProcess, spawn } from "node:child_process";

/**
 * Holds the answer to one kind of request while it is "held": the server has acted (the VM exists), its
 * client has not heard back — the moment a `deploy apply` killed mid-call leaves behind.
 */
export function holdAnswers<Req>(matches: (req: Req) => boolean) {
  let holding = true;
  let seen: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => {
    seen = resolve;
  });
  const held: Array<() => void> = [];
  return {
    arrived,
    /** For a simulator's intercept hook: the reply, late while holding. */
    intercept<Reply>(req: Req, reply: Reply): Reply | Promise<Reply> {
      if (!(holding && matches(req))) return reply;
      seen();
      return new Promise((resolve) => held.push(() => resolve(reply)));
    },
    /** Stops holding and sends every held answer (to a client that is gone by then). */
    release(): void {
      holding = false;
      for (const send of held.splice(0)) send();
    },
  };
}

/**
 * Runs the built CLI with `args` and SIGKILLs it once `arrived` resolves (the create call is in the
 * server); fails when the process exits on its own before that.
 */
export async function runAndKillAt(
  bin: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; arrived: Promise<void>; children: ChildProcess[] },
): Promise<void> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.children.push(child);
  let stderr = "";
  child.stderr?.on("data", (c) => (stderr += c));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_c, s) => resolve(s)));
  await Promise.race([
    options.arrived,
    exited.then(() => {
      throw new Error(`${args.join(" ")} exited before its create call:\n${stderr}`);
    }),
  ]);
  child.kill("SIGKILL");
  const signal = await exited;
  if (signal !== "SIGKILL") throw new Error(`expected SIGKILL, the process ended with ${signal}:\n${stderr}`);
}
