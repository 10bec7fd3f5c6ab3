import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { holdAnswers, runAndKillAt } from "./kill-at-call.js";

/**
 * What every `deploy apply` kill test on a simulated platform does around its simulator: a temp dir with a
 * state dir, the create call's answer held, the built CLI killed once that call is in, and afterwards no
 * process, held answer, changed env variable or temp file left behind.
 */
export function deployKillHarness<Req>(matches: (req: Req) => boolean) {
  const children: ChildProcess[] = [];
  const saved = { ...process.env };
  let hold = holdAnswers<Req>(matches);
  let dir = "";
  let state = "";
  return {
    /** The current test's hold, for the simulator's intercept hook. */
    get hold() {
      return hold;
    },
    /** A fresh hold and temp dir (named after `prefix`) for one test; returns the dir and its state dir. */
    async begin(prefix: string): Promise<{ dir: string; state: string }> {
      dir = await mkdtemp(join(tmpdir(), prefix));
      state = join(dir, "state");
      hold = holdAnswers<Req>(matches);
      return { dir, state };
    },
    /** `deploy apply <specPath>` as a real process, SIGKILLed while its create call is held; then the hold lets go. */
    async applyAndKill(bin: string, specPath: string): Promise<void> {
      await runAndKillAt(
        bin,
        ["deploy", "apply", specPath, "--yes", "--state-dir", state, "--timeout", "60"],
        {
          cwd: dir,
          env: { ...process.env },
          arrived: hold.arrived,
          children,
        },
      );
      hold.release();
    },
    /** Kills what is still running, lets every held answer go, restores the env, closes the simulator, removes the dir. */
    async end(close: () => Promise<void>): Promise<void> {
      for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
      hold.release();
      process.env = { ...saved };
      await close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
